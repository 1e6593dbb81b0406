"""`livegaze eval`: several correctors side by side on the same media, as a report.

Writes DIR/report.md (the summary table per corrector, then every sample), DIR/sheet-N.png
(eye close-ups: input | each corrector | truth) and DIR/offsets.png (iris offset before against
after, per corrector). The measures are in livegaze.evaluation.quality.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from livegaze.correctors import CorrectConfig, entry, from_config
from livegaze.errors import LivegazeError
from livegaze.media import eye_zoom, label, save_figure, write_file, write_image
from livegaze.evaluation.quality import (MEDIA_ENV, EyeMeasure, Row, Sample, default_samples, describe_media,
                                         face_box, far_changes, file_samples, fresh_landmarker, measure,
                                         reading_errors, shared_media_dir)
from livegaze.evaluation.temporal import closed_eye_changes, flicker, gate_behaviour, write_gating_plot
from livegaze.processor import LiveControls
from livegaze.landmarks import FaceLandmarks
from livegaze.stills import StillCorrector, find_faces, still_landmarker

ROWS_PER_SHEET = 8


def run_eval(media: list[str], correctors: list[str], report_dir: str, strength: float = LiveControls.strength,
             model: dict | None = None, echo=print, live: bool = True) -> dict[str, dict]:
    """Run every corrector over the media, write the report, return the summary per corrector.
    live: with the default media, add the live default's section (livegaze.evaluation.livedefault,
    about two minutes on two cores)."""
    if len(set(correctors)) != len(correctors):
        raise LivegazeError(f"--corrector: each corrector once (got {', '.join(correctors)})")
    os.makedirs(report_dir, exist_ok=True)
    with fresh_landmarker() as landmarker, still_landmarker() as finder:
        try:
            samples = file_samples(media) if media else default_samples(landmarker)
        except ValueError as exc:
            raise LivegazeError(str(exc))
        if not samples:
            raise LivegazeError("eval: no media to measure")
        if not media and shared_media_dir() is None:
            echo(f"livegaze: warning: the shared test media were not found (set {MEDIA_ENV} to the folder "
                 "of obama.jpg, biden.jpg, ...): measuring the packaged photos and the clip only")
        # Every face of every sample, found once: each corrector works on the same faces. A group
        # photo gives one row per face, each measured in its own box; a face alone in its
        # picture is measured in the whole of it, as the corrector's landmarker saw it.
        subjects: list[Subject] = []
        for s in tqdm(samples, desc="measuring inputs", unit="image"):
            faces = find_faces(finder, s.image)  # from the left
            if not faces:
                subjects.append(Subject(s.name, s, None, None, None, None))
            for k, face in enumerate(faces):
                box = face_box(face, s.image.shape) if len(faces) > 1 else None
                truth = None if s.truth is None else measure(s.truth, landmarker, box=box)
                name = s.name if len(faces) == 1 else f"{s.name} face {k + 1}"
                subjects.append(Subject(name, s, face, box, measure(s.image, landmarker, truth, box), truth))
        faces = sum(1 for subject in subjects if subject.face is not None)
        media_line = f"media: {describe_media(samples)}; {faces} faces measured"
        echo(media_line)
        rows: list[Row] = []
        for name in correctors:
            stills = StillCorrector(from_config(_correct_config(name, model)))
            try:
                rows += _correct_all(stills, samples, subjects, name, strength, landmarker)
            finally:
                stills.close()
    summary = {name: summarise([r for r in rows if r.corrector == name]) for name in correctors}
    for name in tqdm(correctors, desc="over time", unit="corrector"):
        ratio, fps = flicker(_correct_config(name, model))
        changed, shut = closed_eye_changes(_correct_config(name, model))
        summary[name].update(flicker=ratio, fps=fps, closed_changed=changed, closed_frames=shut)
    gate = gate_behaviour()
    readings = format_readings(subjects)
    live_text = _live_section(report_dir) if live and not media else ""
    write_report(report_dir, subjects, rows, summary, correctors, gate, readings, media_line, live_text)
    echo(format_summary(summary))
    if readings:
        echo(readings)
    echo(format_temporal(summary, gate))
    if live_text:
        echo(live_text)
    echo(f"wrote {os.path.join(report_dir, 'report.md')}")
    return summary


@dataclass
class Subject:
    """One face of one sample, as the report measures it (face None: the sample has none)."""

    name: str
    sample: Sample
    face: FaceLandmarks | None
    box: tuple[int, int, int, int] | None  # where it is measured (quality.face_box; None: the whole image)
    before: list[EyeMeasure] | None
    truth: list[EyeMeasure] | None


def _correct_all(stills: StillCorrector, samples: list[Sample], subjects: list[Subject], corrector: str,
                 strength: float, landmarker) -> list[Row]:
    """One corrector over every sample (all its faces at once), one row per subject."""
    rows = []
    for s in tqdm(samples, desc=corrector, unit="image"):
        mine = [subject for subject in subjects if subject.sample is s]
        faces = [subject.face for subject in mine if subject.face is not None]
        out, results = stills.correct(s.image, strength, faces=faces)
        far = far_changes(s.image, out, faces)
        for face in faces:
            face.iris_fits.clear()  # the fits hold this output: let it go with the sample
        if not faces:
            rows.append(Row(mine[0].name, s.kind, corrector, "no_face", 0.0, None, None, None, 0, out))
            continue
        for subject, result, far_pixels in zip(mine, results, far):
            done = result.status == "corrected"
            after = measure(out, landmarker, subject.truth, subject.box) if done else subject.before
            rows.append(Row(subject.name, s.kind, corrector, result.status, result.ms if done else 0.0,
                            subject.before, after, subject.truth, far_pixels, out))
    return rows


def _correct_config(name: str, model: dict | None) -> CorrectConfig:
    """Each corrector as it corrects a portrait: the gaze onto the camera, no user's calibration;
    the model files (checkpoint, engine) go to the correctors that run a model."""
    return CorrectConfig(name=name, mode="lock", use_calibration=False,
                         **((model or {}) if entry(name).needs_model else {}))


def summarise(rows: list[Row]) -> dict:
    """Medians over the eyes of samples that look away (known-truth, real and clip); the
    camera-facing photos separately: there, a good corrector changes little."""
    away = [r for r in rows if r.kind != "facing" and r.before is not None and r.after is not None]
    facing = [r for r in rows if r.kind == "facing" and r.before is not None and r.after is not None]

    def med(values):
        return float(np.median(values)) if values else float("nan")

    def offsets(rs, when, what):
        return [getattr(e, what) for r in rs for e in getattr(r, when)]

    ratios = [a.contrast / b.contrast for r in rows if r.status == "corrected" and r.before and r.after
              for a, b in zip(r.after, r.before) if b.contrast > 10]
    out = {
        "samples": len(rows),
        "corrected": sum(r.status == "corrected" for r in rows),
        "mp_before": med(offsets(away, "before", "offset_mp")),
        "mp_after": med(offsets(away, "after", "offset_mp")),
        "img_before": med(offsets(away, "before", "offset_img")),
        "img_after": med(offsets(away, "after", "offset_img")),
        "facing_drift": med([abs(a.offset_img - b.offset_img) for r in facing for a, b in zip(r.after, r.before)]),
        "contrast_min": float(min(ratios)) if ratios else float("nan"),
        "contrast_median": med(ratios),
        "far_pixels": int(sum(r.far_pixels for r in rows)),
        "ms_per_face": med([r.ms for r in rows if r.status == "corrected"]),
    }
    for key in ("mp", "img"):
        before, after = out[f"{key}_before"], out[f"{key}_after"]
        out[f"{key}_reduction"] = 100.0 * (1 - after / before) if before > 0 else float("nan")
    return out


def format_summary(summary: dict[str, dict]) -> str:
    head = ("| corrector | corrected | iris offset, MediaPipe (before -> after) | iris offset, image "
            "(before -> after) | facing drift | contrast after/before (min, median) | pixels changed "
            "> 1 eye width away | ms per face |")
    lines = [head, "|" + "---|" * 8]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['corrected']}/{s['samples']} | {s['mp_before']:.3f} -> {s['mp_after']:.3f} "
                     f"({_change(s['mp_reduction'])}) | {s['img_before']:.3f} -> {s['img_after']:.3f} "
                     f"({_change(s['img_reduction'])}) | {s['facing_drift']:.3f} | {s['contrast_min']:.2f}, "
                     f"{s['contrast_median']:.2f} | {s['far_pixels']} | {s['ms_per_face']:.2f} |")
    return "\n".join(lines)


def _change(reduction: float) -> str:
    return f"{reduction:.0f}% less" if reduction >= 0 else f"{-reduction:.0f}% more"


def format_temporal(summary: dict[str, dict], gate: dict) -> str:
    lines = ["| corrector | flicker (output / input) | frames changed with the eyes shut | fps (landmarks + "
             "correction, one thread) |", "|---|---|---|---|"]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['flicker']:.2f} | {s['closed_changed']} of {s['closed_frames']} | {s['fps']:.1f} |")
    lines.append("")
    lines.append(f"Gate (every corrector): {gate['reversals']} reversal(s) of the strength on a slow head turn "
                 f"0 -> 35 -> 0 degrees with +-1.5 degrees of noise; {gate['turned_changed']} of "
                 f"{gate['turned_frames']} frames with the head past the limit still corrected, at strength "
                 f"{gate['turned_max']:.2f} at most (the end of the fade-out).")
    return "\n".join(lines)


def format_readings(subjects: list[Subject]) -> str:
    """How well the two measures read the inputs' known moves ('' when no input has one)."""
    errors = [e for sub in subjects if sub.sample.gaze is not None and sub.before and sub.truth
              for e in reading_errors(sub.before, sub.truth, sub.sample.gaze)]
    if not errors:
        return ""
    mp, img = np.median(np.array(errors), axis=0)
    return (f"The measures' own reach: on the {len(errors)} look-away eyes whose move is known, MediaPipe's "
            f"iris point misses the move by {mp:.3f} eye widths and the image estimate by {img:.3f} "
            "(medians; MediaPipe under-reads vertical moves). Offsets and differences between "
            "correctors smaller than that are within the measures' own error, eye by eye.")


def _live_section(report_dir: str) -> str:
    """The live default (warp, shift mode) on screen-reading clips: its section, sheet written."""
    from livegaze.evaluation.livedefault import evaluate_live, format_live, write_live_sheet

    with fresh_landmarker() as landmarker:
        result = evaluate_live(landmarker, shared_media_dir())
    sheet = write_live_sheet(report_dir, result)
    return "\n".join(["## The live default (shift mode)", "", format_live(result), "",
                      f"![live default]({os.path.basename(sheet)})"])


def write_report(report_dir: str, subjects: list[Subject], rows: list[Row], summary: dict,
                 correctors: list[str], gate: dict, readings: str = "", media_line: str = "",
                 live_text: str = "") -> None:
    earlier = report_sheets(report_dir)
    sheets = write_sheets(report_dir, subjects, rows, correctors)
    plot = write_plot(report_dir, rows, correctors)
    gating = write_gating_plot(report_dir, gate)
    text = ["# livegaze eval", "", media_line.capitalize(), "",
            "Iris offsets are from the camera-facing position, in eye widths, medians over the eyes of "
            "the samples that look away (the camera-facing photos are summarised as *facing drift*: "
            "how much a corrector moved eyes that already looked into the camera). Every image is "
            "measured by a fresh MediaPipe landmarker and by this report's own iris estimate (the "
            "darkest iris-sized disk inside the lids). Contrast: the spread of grey levels inside the "
            "lids (90th minus 10th percentile: dark iris against bright sclera), after over before "
            "(below 0.8 is a washed-out iris).", "", format_summary(summary), "",
            *([readings, ""] if readings else []),
            f"![offsets]({os.path.basename(plot)})", "", "## Over time", "",
            "On generated clips from the packaged photos: a still face with sensor noise (flicker), "
            "a four-frame blink with the eyes painted shut, and the gate on real landmarks with the "
            "head pose set to known angles.", "", format_temporal(summary, gate), "",
            f"![gating]({os.path.basename(gating)})", ""]
    text += [f"![sheet]({os.path.basename(p)})" for p in sheets]
    text += ["", live_text] if live_text else []
    text += ["", "## Every sample", "",
             "| sample | corrector | status | offset MediaPipe before -> after | offset image before -> after "
             "| contrast after/before | far pixels | ms |", "|" + "---|" * 8]
    for r in rows:
        def pair(what):
            if not r.before or not r.after:
                return "-"
            b = np.mean([getattr(e, what) for e in r.before])
            a = np.mean([getattr(e, what) for e in r.after])
            return f"{b:.3f} -> {a:.3f}"
        contrast = "-" if not (r.before and r.after) else " / ".join(
            f"{a.contrast / b.contrast:.2f}" if b.contrast > 10 else "-" for a, b in zip(r.after, r.before))
        text.append(f"| {r.sample} | {r.corrector} | {r.status} | {pair('offset_mp')} | {pair('offset_img')} "
                    f"| {contrast} | {r.far_pixels} | {r.ms:.2f} |")
    write_file(os.path.join(report_dir, "report.md"), ("\n".join(text) + "\n").encode())
    for name in earlier - {os.path.basename(p) for p in sheets}:
        try:  # an earlier report's sheet this one did not redraw (it had more faces)
            os.unlink(os.path.join(report_dir, name))
        except FileNotFoundError:
            pass


SHEET_LINK = re.compile(r"^!\[sheet\]\((sheet-\d+\.png)\)$", re.MULTILINE)


def report_sheets(report_dir: str) -> set[str]:
    """The sheets the report already in `report_dir` shows (only those are a report's own:
    other files there, whatever their names, are the user's)."""
    try:
        with open(os.path.join(report_dir, "report.md"), encoding="utf-8", errors="replace") as f:
            return set(SHEET_LINK.findall(f.read()))
    except OSError:
        return set()


def write_sheets(report_dir: str, subjects: list[Subject], rows: list[Row],
                 correctors: list[str]) -> list[str]:
    """Eye close-ups, one row per face: input | each corrector | truth (when known)."""
    # Rows come corrector by corrector, each in the subjects' order.
    outputs = {c: [r.output for r in rows if r.corrector == c] for c in correctors}
    strips = []
    for k, subject in enumerate(subjects):
        face, s = subject.face, subject.sample
        if face is None:
            continue
        centres = np.stack([face.eye_centre(0), face.eye_centre(1)])
        tiles = [("input " + subject.name, s.image)] + [(c, outputs[c][k]) for c in correctors]
        if s.truth is not None and s.kind != "facing":
            tiles.append(("truth", s.truth))
        zooms = [label(_fit_height(eye_zoom(img, centres, 3), 150), text) for text, img in tiles]
        strips.append(np.hstack(zooms))
    paths = []
    for k in range(0, len(strips), ROWS_PER_SHEET):
        chunk = strips[k:k + ROWS_PER_SHEET]
        width = max(s.shape[1] for s in chunk)
        chunk = [np.pad(s, ((0, 4), (0, width - s.shape[1]), (0, 0)), constant_values=255) for s in chunk]
        path = os.path.join(report_dir, f"sheet-{k // ROWS_PER_SHEET + 1}.png")
        write_image(path, np.vstack(chunk))
        paths.append(path)
    return paths


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    return cv2.resize(image, (max(1, round(image.shape[1] * height / image.shape[0])), height),
                      interpolation=cv2.INTER_AREA)


def write_plot(report_dir: str, rows: list[Row], correctors: list[str]) -> str:
    """Iris offset before (x) against after (y), image-based, one colour per corrector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    top = 0.05
    for name in correctors:
        pts = [(b.offset_img, a.offset_img) for r in rows if r.corrector == name and r.before and r.after
               for b, a in zip(r.before, r.after)]
        if pts:
            x, y = zip(*pts)
            ax.scatter(x, y, s=14, alpha=0.7, label=name)
            top = max(top, max(x), max(y))
    ax.plot([0, top], [0, top], "k--", lw=0.8, label="unchanged")
    ax.set_xlabel("iris offset before (eye widths)")
    ax.set_ylabel("iris offset after (eye widths)")
    ax.set_title("Iris offset from the camera-facing position")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, os.path.join(report_dir, "offsets.png"))
