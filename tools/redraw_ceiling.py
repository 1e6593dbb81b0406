"""What a redraw of the eyes could read on the eval's screen-reading clips, against the warp.

    python -m tools.redraw_ceiling [--media DIR]

A research check, not a corrector: each clip's measured frames are corrected by running the
clips' own look-down method backwards (livegaze.evaluation.lookdown.look_down with the angle
negated, on the frame's own landmarks): the iris cut out, its hidden part mirrored, pasted back
up by the screen's whole offset, the lids raised one to one with it: the inputs' construction
inverted, so the lids end where the truth has them (its pasted iris leaves seams; it is a check
of what opening the lids is worth, not a corrector). It prints the share of the offset given
back by both of the eval's measures, beside the warp's with a calibration that matches the
truth (docs/quality.md quotes both).
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from tqdm import tqdm

from livegaze.calibration import Calibration
from livegaze.evaluation.livedefault import MEASURED, SCREENS, reading_plan, reading_seed, run_live, screen_shift
from livegaze.evaluation.lookdown import clip_frames, facing_faces, look_down
from livegaze.evaluation.quality import fresh_landmarker, measure


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "media")
    parser.add_argument("--media", default=default, help="the shared test media [default: ../shared/media]")
    args = parser.parse_args(argv)
    pairs: dict[str, list] = {"redraw": [], "warp": []}
    with fresh_landmarker() as lm:
        people = facing_faces(lm, args.media if os.path.isdir(args.media) else None)
        jobs = [(k, p, a) for k, p in enumerate(people) for a in SCREENS[k % len(SCREENS)]]
        for k, person, angle in tqdm(jobs, desc="clips", unit="clip"):
            clip = list(clip_frames(person, reading_plan(angle, reading_seed(k, angle))))
            warped = run_live([c[0] for c in clip], Calibration(screen=screen_shift(angle)))
            for i in MEASURED:
                look, truth = clip[i][0], clip[i][1]
                face = lm.detect(look)
                truth_m = measure(truth, lm)
                if face is None or not truth_m:
                    continue
                before = measure(look, lm, truth_m)
                for name, out in (("redraw", look_down(look, face, -angle)), ("warp", warped[i].image)):
                    after = measure(out, lm, truth_m)
                    if before and after:
                        pairs[name] += [(b.offset_mp, a.offset_mp, b.offset_img, a.offset_img)
                                        for b, a in zip(before, after)]
    for name, rows in pairs.items():
        m = np.median(np.array(rows), axis=0)
        print(f"{name}: MediaPipe {m[0]:.3f} -> {m[1]:.3f} ({100 * (1 - m[1] / m[0]):.0f}% given back), "
              f"image {m[2]:.3f} -> {m[3]:.3f} ({100 * (1 - m[3] / m[2]):.0f}%); {len(rows)} eyes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
