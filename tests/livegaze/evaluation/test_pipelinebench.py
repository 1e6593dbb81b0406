"""`livegaze bench`'s CPU figures: what a live run adds over passthrough, against a bare
FaceLandmarker on the same frames, and per stage."""
import re

from livegaze.evaluation.pipelinebench import bench_pipeline


def test_bench_prints_the_cpu_a_live_run_adds():
    lines = []
    rows = bench_pipeline(sizes=[(640, 480)], frames=20, flicker=False, echo=lines.append)
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


def test_bench_shows_the_battery_saver_and_faces_in_view_and_the_flicker_of_each():
    """The battery saver's run (the face model on at most every 12th frame, against every 6th),
    one clip per count of faces in view, and the flicker line of both settings."""
    lines = []
    rows = bench_pipeline(sizes=[(640, 480)], frames=24, faces=(1, 2), echo=lines.append)
    by = {(r["size"], r["mode"], r["pacing"]): r for r in rows}
    assert set(by) == {(size, mode, pacing) for size in ("640x480", "640x480 2 faces")
                       for mode, pacing in (("passthrough", "30fps"), ("full", "30fps"), ("battery", "30fps"),
                                            ("full", "unpaced"))}
    for size in ("640x480", "640x480 2 faces"):
        full, battery = by[(size, "full", "30fps")], by[(size, "battery", "30fps")]
        assert 0 < battery["model_share"] <= full["model_share"] <= 1
        assert battery["model_share"] * battery["delivered"] <= full["model_share"] * full["delivered"]
        assert battery["model_every"] == 12 and full["model_every"] == 6
        assert by[(size, "passthrough", "30fps")]["model_share"] == 0
    text = lines[0]
    assert re.search(r"640x480 2 faces: CPU at 30 fps: full [\d.]+ cores, .* \(face model on \d+% of frames\)", text)
    assert re.search(r"640x480: battery saver \(face model at least every 12 frames\): added -?[\d.]+ cores = "
                     r"-?[\d.]+ ms per frame \(face model on \d+% of frames\)", text)
    flicker = re.search(r"flicker over input, still noisy face: full \(model every 6\) ([\d.]+), "
                        r"battery \(model every 12\) ([\d.]+)", text)
    assert flicker and all(0.5 < float(v) <= 1.1 for v in flicker.groups())
