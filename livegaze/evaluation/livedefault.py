"""`livegaze eval`'s live section: the default live path (warp, shift mode) on screen-reading clips.

Each camera-facing face of the test media reads a screen 8-20 degrees below the camera, lids
following the eyes (livegaze.evaluation.lookdown), with head motion, sensor noise and a blink in
the middle; the same clip looking into the camera is the truth. The clips go through the live
processing (FrameProcessor: landmarks, tracking, the gate, the warp in shift mode) with three
calibrations: one that matches the truth (the eyes lifted by exactly the screen's offset), none
(calibration.DEFAULT_SHIFT), and one measured by `livegaze calibrate`'s own code on a clip of the
same face looking at the camera, then at the screen.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from livegaze.calibration import Calibration, run_calibration
from livegaze.correctors.warp import WarpCorrector
from livegaze.errors import LivegazeError
from livegaze.frames import Frame, Outcome
from livegaze.gate import DOWN_FRAMES
from livegaze.landmarks import Landmarker
from livegaze.processor import FrameProcessor
from livegaze.evaluation.lookdown import EYEBALL, ClipPlan, clip_frames, facing_faces
from livegaze.evaluation.quality import far_changes, measure

BLINK = (8, 11)  # frames with the eyes shut in each reading clip
FRAMES = 20
MEASURED = (4, 6, 13, 16, 19)  # frames measured against the truth (eyes open, eased in)
SCREENS = ((8.0, 16.0), (12.0, 20.0))  # degrees: each face reads at one pair, alternating by face
KEYBOARD = ((15.0, 35.0), (15.0, 40.0), (20.0, 35.0), (20.0, 40.0))  # degrees: (screen, keyboard)
SETTLE = 130  # frames of reading before the look at the keyboard (the gate learns the usual look)
ACROSS = (8.0, 11.0, 14.0, 17.0, 20.0)  # degrees: lines of a screen read in random order
ACROSS_FRAMES = 300
CAMERA_FRAMES, AGAIN_FRAMES = 120, 60  # a 4 s look into the camera, then 2 s of reading again
HALF_PIXEL = 0.5  # the truth moved this many pixels up: what the measures read for a near miss


def across_plan(seed: int) -> ClipPlan:
    """10 s of reading all over a screen 8-20 degrees down: fixations of 0.2-0.5 s on random
    lines, more noise and head motion than the other clips."""
    rng = np.random.default_rng(seed)
    angles: list = []
    while len(angles) < ACROSS_FRAMES:
        angles += [float(rng.choice(ACROSS))] * int(rng.integers(6, 16))
    return ClipPlan(angles[:ACROSS_FRAMES], seed=seed, noise=5.0, wander=2.0)


def reading_seed(face_index: int, angle: float) -> int:
    """The seed of a face's reading clip at `angle` (its noise and head motion)."""
    return 100 * face_index + int(angle)


def reading_plan(angle: float, seed: int) -> ClipPlan:
    angles = [None if BLINK[0] <= i < BLINK[1] else angle for i in range(FRAMES)]
    return ClipPlan(angles, seed=seed, noise=3.0, wander=1.0)


def screen_shift(angle: float) -> tuple[float, float]:
    """The move that takes a look `angle` degrees down back to the camera (eye widths, up)."""
    return (0.0, -EYEBALL * math.sin(math.radians(angle)))


def nudged(image: np.ndarray, pixels: float) -> np.ndarray:
    """The image moved `pixels` up (bilinear, edges repeated)."""
    return cv2.warpAffine(image, np.float32([[1, 0, 0], [0, 1, -pixels]]), image.shape[1::-1],
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def run_live(frames: list[np.ndarray], calibration: Calibration) -> list[Frame]:
    """The frames through the live default: a fresh landmarker, the gate, the warp in shift mode."""
    corrector = WarpCorrector(mode="shift", shift=calibration.shift, bias=calibration.bias)
    with FrameProcessor([Landmarker()], corrector) as processor:
        out = []
        for i, image in enumerate(frames):
            frame = Frame(seq=i + 1, t_capture=i / 30, image=image, original=image)
            out.append(processor.process(frame))
    return out


def measured_calibration(person, angle: float, seed: int, folder: str) -> Calibration | str:
    """`livegaze calibrate`'s own code on a video of the face looking at the camera, then at a
    screen `angle` degrees below it (1 s per look, a blink in the middle of the second); its
    refusal line when it refuses."""
    settle, count = 21, 30  # run_calibration at 30 fps: 0.7 s to settle, then 1 s per look
    screen = [angle] * (settle + count)
    middle = settle + count // 2
    screen[middle - 1:middle + 2] = [None] * 3
    plan = ClipPlan([0.0] * (settle + count) + screen, seed=seed, noise=3.0, wander=0.5)
    path = os.path.join(folder, f"calibrate-{person.name}-{angle:g}.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, plan.size)
    for look, _, _ in clip_frames(person, plan):
        writer.write(look)
    writer.release()
    try:
        return run_calibration(path, seconds=1.0, echo=lambda *_: None, path=Path(folder) / "calibration.toml",
                               progress=False)
    except LivegazeError as exc:
        return str(exc)


def evaluate_live(landmarker, shared: str | None, angles=SCREENS) -> dict:
    """Every camera-facing face, reading at two screen angles (alternating sets, 8-20 degrees in
    all), through the live default with each calibration; the figures of the section."""
    with tempfile.TemporaryDirectory(prefix="livegaze-live-") as folder:
        people = facing_faces(landmarker, shared)
        results = {"truth": [], "default": [], "measured": []}
        calib_errors, refusals, keyboard = [], [], {pair: [] for pair in KEYBOARD}
        flicker, across, floor, again = [], [], [], []
        for k, person in enumerate(tqdm(people, desc="live default", unit="face")):
            looks: dict = {}
            for angle in angles[k % len(angles)]:
                seed = reading_seed(k, angle)
                clip = list(clip_frames(person, reading_plan(angle, seed), looks))
                inputs, truths = [c[0] for c in clip], [c[1] for c in clip]
                measured = measured_calibration(person, angle, seed, folder)
                if isinstance(measured, str):
                    refusals.append(f"{person.name} {angle:g} degrees: {measured}")
                else:
                    calib_errors.append(abs(measured.shift[1] - screen_shift(angle)[1]))
                calibrations = {"truth": Calibration(screen=screen_shift(angle)),
                                "default": Calibration(),
                                "measured": measured if isinstance(measured, Calibration) else None}
                truth_m = {i: measure(truths[i], landmarker) for i in MEASURED}
                before_m = {i: measure(inputs[i], landmarker, truth_m[i]) for i in MEASURED}
                for i in MEASURED:  # what each measure reads for an output half a pixel off the truth
                    if truth_m[i]:
                        near = measure(nudged(truths[i], HALF_PIXEL), landmarker, truth_m[i])
                        floor += [(m.offset_mp, m.offset_img) for m in near or ()]
                for name, cal in calibrations.items():
                    if cal is None:
                        continue
                    done = run_live(inputs, cal)
                    row = _clip_figures(inputs, done, truth_m, before_m, landmarker, person.name, angle)
                    row["truth_image"] = truths[MEASURED[-1]]
                    results[name].append(row)
            still = list(clip_frames(person, ClipPlan([15.0] * 12, seed=k, noise=3.0, wander=0.0), looks))
            flicker.append(_flicker([c[0] for c in still], run_live([c[0] for c in still],
                                                                    Calibration(screen=screen_shift(15)))))
            clip = [c[0] for c in clip_frames(person, across_plan(k), looks)]
            done = run_live(clip, Calibration(screen=screen_shift(14)))
            across.append(float(np.mean([f.outcome is not Outcome.CORRECTED for f in done[SETTLE:]])))
            plan = ClipPlan([15.0] * SETTLE + [0.0] * CAMERA_FRAMES + [15.0] * AGAIN_FRAMES, seed=k, noise=3.0)
            done = run_live([c[0] for c in clip_frames(person, plan, looks)], Calibration(screen=screen_shift(15)))
            again.append(float(np.mean([f.outcome is not Outcome.CORRECTED for f in done[-AGAIN_FRAMES:]])))
            for screen, angle in KEYBOARD:  # reading the screen, then a look at the keyboard
                plan = ClipPlan([screen] * SETTLE + [angle] * 10, seed=k, noise=3.0)
                board = [c[0] for c in clip_frames(person, plan, looks)]
                done = run_live(board, Calibration(screen=screen_shift(screen)))
                look = SETTLE + DOWN_FRAMES - 1  # the look's frames the rule must leave untouched
                keyboard[(screen, angle)].append(float(np.mean([np.array_equal(f.image, x)
                                                                for f, x in zip(done[look:], board[look:])])))
    summary = {name: summarise(rows) for name, rows in results.items() if rows}
    return {"summary": summary, "rows": results, "people": [p.name for p in people],
            "calibration_error": float(np.median(calib_errors)) if calib_errors else float("nan"),
            "calibrations": len(calib_errors), "refusals": refusals,
            "flicker": float(np.mean(flicker)) if flicker else float("nan"),
            "half_pixel": tuple(np.median(floor, axis=0)) if floor else (float("nan"),) * 2,
            "across_left": float(np.mean(across)) if across else float("nan"),
            "again_left": float(np.mean(again)) if again else float("nan"),
            "keyboard_passed": {pair: float(np.mean(v)) if v else float("nan")
                                for pair, v in keyboard.items()}}


def _clip_figures(inputs, done, truth_m, before_m, landmarker, name, angle) -> dict:
    after_m = {i: measure(done[i].image, landmarker, truth_m[i]) for i in MEASURED}
    pairs = [(b, a) for i in MEASURED if before_m[i] and after_m[i] for b, a in zip(before_m[i], after_m[i])]
    open_frames = [i for i in range(len(done)) if not BLINK[0] <= i < BLINK[1]]
    back = next((i - BLINK[1] for i in range(BLINK[1], len(done)) if done[i].strength >= 1.0), len(done))
    return {
        "name": name, "angle": angle,
        "mp": [(b.offset_mp, a.offset_mp) for b, a in pairs],
        "img": [(b.offset_img, a.offset_img) for b, a in pairs],
        "contrast": [a.contrast / b.contrast for b, a in pairs if b.contrast > 10],
        "far": sum(sum(far_changes(inputs[i], done[i].image, [done[i].face])) for i in open_frames
                   if done[i].face is not None),
        "shut_changed": sum(not np.array_equal(done[i].image, inputs[i]) for i in range(*BLINK)),
        "shut": BLINK[1] - BLINK[0],
        "closed": sum(done[i].outcome is Outcome.EYES_CLOSED for i in open_frames) / len(open_frames),
        "gated": sum(done[i].outcome is not Outcome.CORRECTED for i in open_frames) / len(open_frames),
        "back": back,
        "sheet": (inputs[MEASURED[-1]], done[MEASURED[-1]].image, done[MEASURED[-1]].face),
    }


def _flicker(inputs: list[np.ndarray], done: list[Frame]) -> float:
    """Frame-to-frame change around the eyes, output over input, on a still face with noise."""
    face = next((f.face for f in done if f.face is not None), None)
    if face is None:
        return float("nan")
    from livegaze.evaluation.temporal import eye_regions

    near = eye_regions(face, inputs[0].shape)

    def change(seq):
        return np.mean([np.abs(a.astype(np.float32) - b.astype(np.float32))[near].mean() for a, b in zip(seq, seq[1:])])

    return float(change([f.image for f in done[4:]]) / max(change(inputs[4:]), 1e-6))


def summarise(rows: list[dict]) -> dict:
    """Medians over every measured eye: the offset before and after by each measure, the share
    given back, and the worst of the rest."""
    out = {}
    for key in ("mp", "img"):
        pairs = np.array([p for r in rows for p in r[key]])
        before, after = (float(np.median(pairs[:, 0])), float(np.median(pairs[:, 1]))) if len(pairs) else (np.nan,) * 2
        out[key] = (before, after, 100.0 * (1 - after / before) if before > 0 else float("nan"))
    contrast = [c for r in rows for c in r["contrast"]]
    out.update(contrast_min=float(min(contrast)) if contrast else float("nan"),
               contrast_median=float(np.median(contrast)) if contrast else float("nan"),
               far=int(sum(r["far"] for r in rows)), shut_changed=int(sum(r["shut_changed"] for r in rows)),
               shut=int(sum(r["shut"] for r in rows)), closed=float(np.mean([r["closed"] for r in rows])),
               gated=float(np.mean([r["gated"] for r in rows])), back=int(max(r["back"] for r in rows)),
               clips=len(rows))
    return out


def format_live(result: dict) -> str:
    """The section's table and lines (markdown)."""
    lines = ["| calibration | screen-reading offset given back, MediaPipe (before -> after) | image (before -> after) "
             "| contrast after/before (min, median) | pixels changed > 1 eye width away | frames changed with the "
             "eyes shut | open-eye frames left alone (eyes closed / all) |", "|" + "---|" * 7]
    names = {"truth": "matches the truth", "default": "none (default lift 0.08)", "measured": "by `livegaze calibrate`"}
    for key, s in result["summary"].items():
        lines.append(f"| {names[key]} | {s['mp'][2]:.0f}% ({s['mp'][0]:.3f} -> {s['mp'][1]:.3f}) | {s['img'][2]:.0f}% "
                     f"({s['img'][0]:.3f} -> {s['img'][1]:.3f}) | {s['contrast_min']:.2f}, {s['contrast_median']:.2f} "
                     f"| {s['far']} | {s['shut_changed']} of {s['shut']} | {100 * s['closed']:.0f}% / "
                     f"{100 * s['gated']:.0f}% |")
    truth = result["summary"].get("truth", {})
    near_mp, near_img = result["half_pixel"]
    lines += ["", f"Faces: {', '.join(result['people'])}; {truth.get('clips', 0)} clips of {FRAMES} frames, "
              f"screens 8-20 degrees below the camera, a {BLINK[1] - BLINK[0]}-frame blink in each.",
              f"Flicker (still face, 15 degrees, output over input): {result['flicker']:.2f}. Lag: the full move is "
              f"back {truth.get('back', 0)} frames after the eyes open (the gate's ease-in), and the eyes follow "
              "the user's own movements in the same frame (shift mode moves them by a constant).",
              f"The measures' resolution: the truth moved {HALF_PIXEL:g} pixel up reads as {near_mp:.3f} eye "
              f"widths by MediaPipe and {near_img:.3f} by the image (medians): an output within {HALF_PIXEL:g} "
              f"pixel of the truth can read as little as {_share(truth, 'mp', near_mp)} / "
              f"{_share(truth, 'img', near_img)} given back.",
              f"`livegaze calibrate` on the same faces: the screen offset recovered within "
              f"{result['calibration_error']:.3f} eye widths (median of {result['calibrations']})"
              + (f"; refused {len(result['refusals'])}" if result["refusals"] else "") + ".",
              f"A look at a keyboard after {SETTLE} frames of reading the screen (frames left untouched, from "
              f"the look's frame {DOWN_FRAMES} on): "
              + ", ".join(f"screen {screen:g}, keyboard {angle:g} degrees down: {100 * share:.0f}%"
                          for (screen, angle), share in result["keyboard_passed"].items()) + ".",
              f"Reading all over the screen (8-20 degrees, {ACROSS_FRAMES} frames, fixations of 6-15 frames on "
              f"random lines): {100 * result['across_left']:.1f}% of frames from frame {SETTLE} on not corrected.",
              f"Reading again (15 degrees) after {CAMERA_FRAMES / 30:g} s looking into the camera: "
              f"{100 * result['again_left']:.1f}% of its first {AGAIN_FRAMES} frames not corrected."]
    return "\n".join(lines)


def _share(summary: dict, key: str, after: float) -> str:
    before = summary.get(key, (float("nan"),))[0]
    return f"{100 * (1 - after / before):.0f}%" if before > 0 else "-"


def write_live_sheet(report_dir: str, result: dict) -> str:
    """Eye close-ups, one row per clip: input | output with each calibration | truth."""
    from livegaze.media import eye_zoom, label, write_image

    keys = [k for k in ("truth", "default", "measured") if k in result["rows"]]
    strips = []
    for k, row in enumerate(result["rows"]["truth"]):
        face = row["sheet"][2]
        if face is None:
            continue
        centres = np.stack([face.eye_centre(0), face.eye_centre(1)])
        tiles = [("input " + row["name"] + f" {row['angle']:g} deg", row["sheet"][0])]
        for key in keys:
            match = [r for r in result["rows"][key] if r["name"] == row["name"] and r["angle"] == row["angle"]]
            if match:
                tiles.append((f"calibration: {key}", match[0]["sheet"][1]))
        tiles.append(("truth", row["truth_image"]))
        strips.append(np.hstack([label(cv2.resize(eye_zoom(img, centres, 3), (480, 160)), text) for text, img in tiles]))
    width = max(s.shape[1] for s in strips)
    sheet = np.vstack([np.pad(s, ((0, 4), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in strips])
    path = os.path.join(report_dir, "live-sheet.png")
    write_image(path, sheet)
    return path
