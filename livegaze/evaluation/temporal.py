"""The temporal part of `livegaze eval`: what a corrector does over time, on generated clips.

- flicker: on a still face with sensor noise, the mean change between consecutive frames in the
  eye regions, output over input (1.0: no flicker of its own);
- closed eyes: frames of a blink (eyes painted shut from the frame's own landmarks) that the
  corrector changed anyway;
- fps: frames per second through landmarks and correction on one thread;
and, for the gate every corrector goes through (real landmarks, head pose set to known angles):
- the gating curve (strength against gaze and head angle, a plot),
- reversals of the strength on a slow head turn (0 -> 35 -> 0 degrees with landmark noise),
- frames corrected while the head was turned past `head_none`.
"""
from __future__ import annotations

import os
import time

import cv2
import numpy as np

from livegaze.correctors import CorrectConfig, from_config
from livegaze.frames import Frame
from livegaze.gate import EYEBALL, Gate
from livegaze.landmarks import IRIS_CENTRES, IRIS_RINGS, FaceLandmarks, Landmarker, LandmarkerConfig
from livegaze.media import save_figure
from livegaze.processor import FrameProcessor
from livegaze.evaluation.clips import ClipSpec, iter_frames, photo_landmarks


def run_stream(frames: list[np.ndarray], corrector, landmarks: LandmarkerConfig | None = None
               ) -> tuple[list[Frame], float]:
    """Every frame through a fresh landmarker and the corrector (in order); (frames, fps)."""
    processor = FrameProcessor([Landmarker(landmarks)], None)
    processor.set_corrector(corrector)
    out = []
    start = time.perf_counter()
    try:
        for i, image in enumerate(frames):
            frame = Frame(seq=i + 1, t_capture=i / 30, image=image, original=image)
            out.append(processor.process(frame))
    finally:
        elapsed = time.perf_counter() - start
        processor.landmarkers[0].close()
    return out, len(frames) / elapsed


def eye_regions(face: FaceLandmarks, shape) -> np.ndarray:
    """Both openings grown by half an eye width: where a correction shows."""
    mask = np.zeros(shape[:2], np.uint8)
    for eye in range(2):
        cv2.fillPoly(mask, [np.round(face.eye_contour(eye)).astype(np.int32)], 1)
    half = int(face.eye_size(0)[0]) // 2
    return cv2.dilate(mask, np.ones((2 * half + 1, 2 * half + 1), np.uint8)) > 0


def flicker(correct: CorrectConfig, landmarks: LandmarkerConfig | None = None) -> tuple[float, float]:
    """(output flicker over input flicker, fps), the mean over the packaged photos; `landmarks`:
    the face model's settings (how often it runs)."""
    ratios, rates = [], []
    for photo in ("astronaut", "grace_hopper"):
        frames = [f for f, _, _, _ in iter_frames(ClipSpec(frames=40, photos=(photo,), motion="still",
                                                           gaze=(0.1, 0.1), noise=4.0, seed=5))]
        done, fps = run_stream(frames, from_config(correct), landmarks)
        faces = [f.face for f in done if f.face is not None]
        if not faces:
            continue
        near = eye_regions(faces[0], frames[0].shape)

        def change(seq):
            return np.mean([np.abs(a.astype(np.float32) - b.astype(np.float32))[near].mean()
                            for a, b in zip(seq, seq[1:])])

        ratios.append(change([f.image for f in done]) / max(change(frames), 1e-6))
        rates.append(fps)
    return float(np.mean(ratios)), float(np.mean(rates))


def closed_eye_changes(correct: CorrectConfig) -> tuple[int, int]:
    """(frames changed, frames with the eyes shut) on a clip with a four-frame blink."""
    frames = [f for f, _, _, _ in iter_frames(ClipSpec(frames=30, photos=("astronaut",), motion="wander",
                                                       gaze=(0.1, 0.1), noise=2.0, seed=2))]
    shut = set(range(12, 16))
    with Landmarker() as lm:
        for i in shut:
            face = lm.detect(frames[i], i * 33)
            frames[i] = shut_eyes(frames[i], face)
    done, _ = run_stream(frames, from_config(correct))
    changed = sum(1 for i in shut if not np.array_equal(done[i].image, frames[i]))
    return changed, len(shut)


def shut_eyes(image: np.ndarray, face: FaceLandmarks) -> np.ndarray:
    """The eyes painted shut: each opening filled with the skin below it, a lash line drawn."""
    out = image.copy()
    for eye in range(2):
        c = face.eye_contour(eye)
        width = float(np.linalg.norm(c[0] - c[8]))
        y0, y1 = int(c[:, 1].max() + 0.15 * width), int(c[:, 1].max() + 0.3 * width)
        skin = cv2.mean(image[y0:y1, int(c[:, 0].min()):int(c[:, 0].max())])[:3]
        cv2.fillPoly(out, [np.round(c).astype(np.int32)], skin)
        lower = c[8:]
        order = np.argsort(lower[:, 0])
        xs = np.linspace(c[:, 0].min(), c[:, 0].max(), 20)
        line = np.stack([xs, np.interp(xs, lower[order, 0], lower[order, 1])], 1)
        cv2.polylines(out, [np.round(line).astype(np.int32)], False, (40, 30, 30), 2)
    return out


def with_pose(face: FaceLandmarks, yaw: float = 0.0, gaze: float = 0.0) -> FaceLandmarks:
    """Real landmarks with the head turned `yaw` degrees and the irises `gaze` degrees aside."""
    t = np.radians(yaw)
    pose = face.pose.copy()
    pose[:3, :3] = [[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]]
    points = face.points.copy()
    for eye in range(2):
        idx = [IRIS_CENTRES[eye], *IRIS_RINGS[eye]]
        points[idx, 0] += EYEBALL * np.sin(np.radians(gaze)) * face.eye_size(eye)[0]
    return FaceLandmarks(points, dict(face.blendshapes), pose)


def gate_behaviour(gate_config=None) -> dict:
    """The gating curves, reversals on a slow noisy head turn, frames corrected past head_none."""
    face = photo_landmarks("astronaut")
    angles = np.arange(0, 41, 1.0)
    curve_gaze, curve_head = [], []
    for a in angles:
        gate = Gate(gate_config)
        curve_gaze.append(gate.target(with_pose(face, gaze=a))[0])
        gate.reset()
        curve_head.append(gate.target(with_pose(face, yaw=a))[0])
    rng = np.random.default_rng(1)
    yaws = np.concatenate([np.linspace(0, 35, 70), np.linspace(35, 0, 70)]) + rng.uniform(-1.5, 1.5, 140)
    gate = Gate(gate_config)
    for _ in range(gate.config.ease_frames + 2):  # a settled stream
        gate.update(with_pose(face))
    shares = np.array([gate.update(with_pose(face, yaw=y))[0] for y in yaws])
    steps = np.diff(shares)
    signs = np.sign(steps[np.abs(steps) > 1e-6])
    turned = np.abs(yaws) >= gate.config.head_none
    return {"angles": angles, "curve_gaze": np.array(curve_gaze), "curve_head": np.array(curve_head),
            "reversals": int(np.sum(signs[1:] != signs[:-1])),
            "turned_changed": int(np.sum(shares[turned] > 0)), "turned_frames": int(turned.sum()),
            "turned_max": float(shares[turned].max()) if turned.any() else 0.0}


def write_gating_plot(report_dir: str, behaviour: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    ax.plot(behaviour["angles"], behaviour["curve_gaze"], label="gaze angle from the camera")
    ax.plot(behaviour["angles"], behaviour["curve_head"], label="head yaw")
    ax.set_xlabel("degrees")
    ax.set_ylabel("correction strength")
    ax.set_title("Look-away gating")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, os.path.join(report_dir, "gating.png"))
