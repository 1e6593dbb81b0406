"""tools.redraw_ceiling on the packaged photos (no shared media): both corrections bring the
eyes back towards the truth by MediaPipe's measure, and the lines docs/quality.md quotes are
printed."""
import re

from tools import redraw_ceiling


def test_the_redraw_check_prints_both_corrections(capsys, tmp_path):
    assert redraw_ceiling.main(["--media", str(tmp_path / "none")]) == 0
    lines = {m.group(1): m.groups()[1:] for m in re.finditer(
        r"^(redraw|warp): MediaPipe ([\d.]+) -> ([\d.]+) \((-?\d+)% given back\), image ([\d.]+) -> ([\d.]+) "
        r"\((-?\d+)%\); (\d+) eyes$", capsys.readouterr().out, re.M)}
    assert set(lines) == {"redraw", "warp"}
    for name, (before, after, share, *_rest, eyes) in lines.items():
        assert float(after) < float(before), name
        assert int(share) > 0 and int(eyes) >= 8, name
