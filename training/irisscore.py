"""Where the iris sits in each eye box, to score gaze corrections where the truth is known.

The synthetic set (training.syntheticset) stores every averted face of domain Y a second time looking
into the camera (DST/facing/). A correction moves the iris toward the camera when the iris in the
corrected eye box lies closer to the facing one's than the input's does. The iris position is the
darkness-weighted centroid of the eye crop: iris and pupil are the darkest things in an eye, and a
centroid stays meaningful for the blurry eyes of a briefly trained model, where pixel-wise distances
to the truth mostly measure the blur.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from training.networks import crop_eyes

CROP = 64  # eye boxes are resampled to CROP x CROP before measuring, whatever the model size


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = int(3 * sigma)
    k = torch.exp(-(torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))


def _eye_luminance(image: torch.Tensor, boxes: torch.Tensor, opening) -> tuple[torch.Tensor, torch.Tensor]:
    """Blurred luminance of each eye crop (B*2,C,C) and where the eye opening is (same shape)."""
    lum = crop_eyes(image, boxes, CROP).mean(2).flatten(0, 1)
    # A blur the size of a pupil: single dark pixels (the speckle of a young GAN) weigh little.
    lum = _blur(lum.unsqueeze(1), CROP / 16).squeeze(1)
    inside = torch.ones_like(lum, dtype=torch.bool)
    if opening is not None:
        pos = (torch.arange(CROP, dtype=lum.dtype, device=lum.device) + 0.5) / CROP - 0.5
        size = (boxes[..., 2:] - boxes[..., :2]).flatten(0, 1).to(lum.dtype)  # (B*2, 2): w, h
        ax, ay = opening[0] / size[:, 0, None, None], opening[1] / size[:, 1, None, None]
        inside = (pos.view(1, 1, -1) / ax) ** 2 + (pos.view(1, -1, 1) / ay) ** 2 <= 1
    return lum, inside


def iris_centres(image: torch.Tensor, boxes: torch.Tensor, opening: tuple[float, float] | None = None,
                 dark_fraction: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,3,S,S) in [-1,1] and boxes (B,2,4) px -> iris centres (B,2,2) (x, y) as fractions of the
    box's width and height (0.5: the box centre), and the iris contrast (B,2): how much darker the
    iris is than the rest of the opening, in [-1,1] units. A featureless fill has a contrast near 0
    and a centre near the box centre, so a correction is judged on both.

    Weights are how much darker than the `dark_fraction` quantile a pixel is, squared, so skin and
    sclera weigh nothing and the pupil most. `opening`: the eye opening's semi-axes (x, y) in image
    pixels, when known (synthetic eyes); only pixels inside it, centred in the box, count."""
    lum, inside = _eye_luminance(image, boxes, opening)
    flat = torch.where(inside, lum, torch.nan).flatten(1)
    dark = torch.nanquantile(flat, dark_fraction, dim=1, keepdim=True)
    contrast = torch.nanquantile(flat, 0.5, dim=1) - torch.nanmean(torch.where(flat <= dark, flat, torch.nan), 1)
    w = torch.nan_to_num((dark - flat).clamp(min=0).pow(2)).view_as(lum)
    w = w / w.sum((1, 2), keepdim=True).clamp(min=1e-12)
    pos = (torch.arange(CROP, dtype=lum.dtype, device=lum.device) + 0.5) / CROP
    centres = torch.stack([(w.sum(1) * pos).sum(1), (w.sum(2) * pos).sum(1)], -1)
    b = image.shape[0]
    return centres.view(b, 2, 2), contrast.view(b, 2)


def iris_errors(image: torch.Tensor, corrected: torch.Tensor, facing: torch.Tensor, boxes: torch.Tensor,
                opening: tuple[float, float] | None = None) -> dict[str, torch.Tensor]:
    """Per eye (B,2): the distance (box fractions) from the facing iris of the input's iris
    ("before") and of the corrected one's ("after"), and the corrected iris contrast relative to the
    facing one ("contrast", 1: as dark as the truth). A correction toward the camera makes "after"
    smaller than "before" with a contrast well above 0."""
    truth, truth_contrast = iris_centres(facing, boxes, opening)
    before, _ = iris_centres(image, boxes, opening)
    after, contrast = iris_centres(corrected, boxes, opening)
    return {"before": (before - truth).norm(dim=-1), "after": (after - truth).norm(dim=-1),
            "contrast": contrast / truth_contrast.clamp(min=1e-6)}
