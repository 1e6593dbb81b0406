"""`livegaze bench`'s CPU figures: what a live run adds over passthrough, against a bare
FaceLandmarker on the same frames, and per stage."""
import re

from livegaze.evaluation.pipelinebench import bench_pipeline


def test_bench_prints_the_cpu_a_live_run_adds():
    lines = []
    rows = bench_pipeline(sizes=[(640, 480)], frames=20, echo=lines.append)
    by = {(r["mode"], r["pacing"]): r for r in rows}
    full, base = by[("full", "30fps")], by[("passthrough", "30fps")]
    # Landmarks and the correction cost far more than passing frames through.
    assert full["cpu_ms_per_frame"] > base["cpu_ms_per_frame"] + 2
    assert 0 < base["cores"] < full["cores"] <= 2.0 + 1e-6  # this machine's two cores at most
    assert set(full["stage_cpu_ms"]) >= {"landmarks", "track", "gate", "correct"}
    assert not base["stage_cpu_ms"].get("landmarks")  # passthrough runs no face model
    bare = rows[-1]["bare_landmarker_cpu_ms"]
    assert 1 < bare < 200
    text = lines[0]
    added = full["cpu_ms_per_frame"] - base["cpu_ms_per_frame"]
    shown = re.search(r"640x480: CPU at 30 fps: full ([\d.]+) cores, passthrough ([\d.]+), added ([\d.]+) cores "
                      r"= ([\d.]+) ms per frame", text)
    assert shown and abs(float(shown.group(4)) - added) < 0.06
    ratio = re.search(r"bare FaceLandmarker ([\d.]+) CPU ms per frame; added / bare = ([\d.]+)", text)
    assert ratio and abs(float(ratio.group(2)) - added / bare) < 0.01
    by_stage = re.search(r"added CPU ms per frame by stage: landmarks and the rest ([-\d.]+), (.*)", text)
    others = {name: float(ms) for name, ms in re.findall(r"(\w+) ([\d.]+)", by_stage.group(2))}
    assert abs(float(by_stage.group(1)) + sum(others.values()) - added) < 0.1  # the parts add up
