"""`livegaze eval`: its measures on known truth, and the report through the real CLI."""
import os

import cv2

from livegaze.cli import main
from livegaze.evaluation.quality import avert, fresh_landmarker, measure
from livegaze.evaluation.clips import photo


def test_measures_see_a_known_look_away_and_not_the_truth():
    image = photo("astronaut")
    landmarker = fresh_landmarker()
    try:
        face = landmarker.detect(image)
        truth = measure(image, landmarker)
        same = measure(image, landmarker, truth)
        away = measure(avert(image, face, (0.15, 0.0)), landmarker, truth)
    finally:
        landmarker.close()
    assert all(e.offset_img == 0 and e.offset_mp == 0 for e in same)
    # The image-based estimate sees most of a 0.15 eye-width move; contrast stays measurable.
    assert all(e.offset_img > 0.08 for e in away)
    assert all(e.contrast > 20 for e in truth)


def test_eval_report_compares_two_correctors(tmp_path, capsys):
    image = photo("astronaut")
    landmarker = fresh_landmarker()
    try:
        face = landmarker.detect(image)
    finally:
        landmarker.close()
    path = tmp_path / "away.png"
    cv2.imwrite(str(path), avert(image, face, (0.12, 0.08)))
    report = tmp_path / "report"
    assert main(["eval", str(path), "--corrector", "warp", "--corrector", "geometric", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "| warp | 1/1 |" in out and "| geometric | 1/1 |" in out
    files = sorted(os.listdir(report))
    assert files == ["gating.png", "offsets.png", "report.md", "sheet-1.png"]
    text = (report / "report.md").read_text()
    assert "![sheet](sheet-1.png)" in text and "| away.png | warp | corrected |" in text
    sheet = cv2.imread(str(report / "sheet-1.png"))
    assert sheet is not None and sheet.shape[1] > 3 * sheet.shape[0]  # input | warp | geometric side by side
    # Over time: the warp does not flicker more than the camera, leaves shut eyes alone, and
    # the gate turns around at most once on a slow head turn.
    assert "| warp |" in text.split("## Over time")[1]
    warp = [line for line in text.split("## Over time")[1].splitlines() if line.startswith("| warp |")][0]
    cells = [c.strip() for c in warp.split("|")[1:-1]]
    assert float(cells[1]) <= 1.2 and cells[2].startswith("0 of")
    assert "1 reversal(s)" in text or "0 reversal(s)" in text
    tail = float(text.split("at strength ")[1].split(" at most")[0])
    assert tail < 0.25  # past the head limit: only the last step of the fade-out
    # No pixel far from the eyes changed, for either corrector.
    assert all(line.split("|")[-3].strip() == "0" for line in text.splitlines()
               if line.startswith("| away.png"))


def test_eval_rejects_a_file_it_cannot_read(tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert main(["eval", str(bad), "--report", str(tmp_path / "r")]) == 2
    assert "notes.txt: neither an image nor a video" in capsys.readouterr().err
