"""`livegaze eval` into the folder of an earlier report: the earlier report's sheets that this one
does not redraw are removed, and nothing else there (real CLI in a subprocess)."""
import cv2
import numpy as np

from livegaze.evaluation.clips import photo
from tests.livegaze.test_full_disk import livegaze


def test_an_earlier_reports_extra_sheets_are_removed_and_only_those(tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    # An earlier report of more faces: three sheets, shown in its report.md.
    (report / "report.md").write_text("# livegaze eval\n\n![sheet](sheet-1.png)\n![sheet](sheet-2.png)\n"
                                      "![sheet](sheet-3.png)\n")
    for n in (1, 2, 3, 9):
        cv2.imwrite(str(report / f"sheet-{n}.png"), np.zeros((8, 8, 3), np.uint8))
    (report / "notes.txt").write_text("mine")  # the user's own files, sheet-9.png among them
    face = tmp_path / "face.png"
    cv2.imwrite(str(face), photo("astronaut"))
    result = livegaze("eval", str(face), "--report", str(report), "--corrector", "geometric", timeout=300)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in report.iterdir())
    assert "sheet-1.png" in names and "sheet-2.png" not in names and "sheet-3.png" not in names
    assert "sheet-9.png" in names and "notes.txt" in names  # not the report's: kept
    assert cv2.imread(str(report / "sheet-1.png")).shape[0] > 8  # redrawn by this report
    assert "![sheet](sheet-2.png)" not in (report / "report.md").read_text()
