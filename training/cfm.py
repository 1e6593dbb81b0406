"""The Coarse-to-Fine Module (CFM) of the high-resolution GazeGAN (Zhang et al., IEEE TIP 2022,
"Unsupervised High-Resolution Portrait Gaze Correction and Animation", arXiv 2207.00256).

What the paper says (abstract and introduction, the parts this project could read): 512x512
portraits (CelebHQGaze); a CFM "integrated with GCM and GAM" to cut "both the memory and the
computational costs in the training and the inference stage". What it does not say there, and
what is chosen here (each choice marked "paper silent" below):

- coarse: the MM 2020 in-painting generator (training.networks.InpaintGenerator, PAM content codes
  and, for G_y, the angle code r) runs on the face downscaled to `coarse` pixels (256: the model
  the CFM is integrated with, at the resolution it was designed for);
- fine: a small fully convolutional network sees only a window around each eye box at full
  resolution (the masked face, the mask and the coarse fill scaled up) and adds a bounded residual
  (tanh) to the coarse fill, pasted back into the box. Full-resolution work is thus limited to the
  two eye windows, which is where the savings the paper claims can come from;
- one set of losses (the paper's, on the final output): the residual path passes the gradient
  straight to the coarse stage, so no separate coarse loss is needed.

As in the MM model, pixels outside the eye boxes are the input's, exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.networks import InpaintGenerator, Recorded, _down, small_mask


def _conv(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, 1, k // 2), nn.InstanceNorm2d(cout, affine=True),
                         nn.LeakyReLU(0.2, inplace=True))


class _Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(_conv(c, c), nn.Conv2d(c, c, 3, 1, 1), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x):
        return x + self.body(x)


class FineNet(nn.Module):
    """The fine stage on one eye window: (masked face, mask, coarse fill) -> residual in [-1, 1].

    Paper silent on its layers: a U-Net of two stride-2 levels and two residual blocks at a quarter
    resolution, the layer types of the MM generator (instance norm, LeakyReLU / ReLU)."""

    def __init__(self, base: int = 16):
        super().__init__()
        self.stem = _down(7, base, 7, 1)
        self.down1 = _down(base, base * 2)
        self.down2 = _down(base * 2, base * 4)
        self.mid = nn.Sequential(_Residual(base * 4), _Residual(base * 4))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(base * 8, base * 2, 4, 2, 1),
                                 nn.InstanceNorm2d(base * 2, affine=True), nn.ReLU(inplace=True))
        self.up1 = nn.Sequential(nn.ConvTranspose2d(base * 4, base, 4, 2, 1),
                                 nn.InstanceNorm2d(base, affine=True), nn.ReLU(inplace=True))
        self.out = nn.Conv2d(base * 2, 3, 7, 1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = self.stem(x)
        s1 = self.down1(s0)
        s2 = self.down2(s1)
        h = self.up2(torch.cat([self.mid(s2), s2], 1))
        h = self.up1(torch.cat([h, s1], 1))
        return torch.tanh(self.out(torch.cat([h, s0], 1)))


def window_grids(boxes: torch.Tensor, size: int, box_h: int, box_w: int, margin: int):
    """Sampling grids for the eye windows of integer boxes (B,2,4) in a size x size image.

    crop:  (B*2, H, W, 2) window = box + margin on each side, H = box_h + 2 margin, W likewise;
    paste: (B*2, S, S, 2) each image pixel's place in its eye's box (outside the box: off the
           patch, so zero padding gives 0 there).
    Pixel-centre aligned (align_corners=False) at integer offsets: bilinear sampling copies pixels
    exactly. Built from arange only, so the graph exports without AffineGrid."""
    b = boxes.shape[0]
    dev, dtype = boxes.device, torch.float32
    x0 = boxes[..., 0].reshape(b * 2, 1).to(dtype)
    y0 = boxes[..., 1].reshape(b * 2, 1).to(dtype)
    hh, ww = box_h + 2 * margin, box_w + 2 * margin
    jx = torch.arange(ww, device=dev, dtype=dtype).view(1, ww)
    iy = torch.arange(hh, device=dev, dtype=dtype).view(1, hh)
    gx = (x0 - margin + jx + 0.5) * (2.0 / size) - 1  # (B*2, W)
    gy = (y0 - margin + iy + 0.5) * (2.0 / size) - 1  # (B*2, H)
    crop = torch.stack([gx[:, None, :].expand(-1, hh, ww), gy[:, :, None].expand(-1, hh, ww)], -1)
    px = torch.arange(size, device=dev, dtype=dtype).view(1, size)
    ux = (px - x0 + 0.5) * (2.0 / box_w) - 1  # (B*2, S) in the box patch's own coordinates
    uy = (px - y0 + 0.5) * (2.0 / box_h) - 1
    paste = torch.stack([ux[:, None, :].expand(-1, size, size), uy[:, :, None].expand(-1, size, size)], -1)
    return crop, paste


class CoarseToFineGenerator(Recorded):
    """G_x (code=0) or G_y (code=2) at high resolution: coarse in-painting at `coarse` pixels, fine
    residual on the eye windows at `size` pixels. Same call as InpaintGenerator plus the eye boxes
    (B,2,4) of `box_h` x `box_w` pixels (or their `grids` from window_grids, constant in a graph)."""

    def __init__(self, size: int = 512, coarse: int = 256, base: int = 16, fc: int = 256, content: int = 256,
                 code: int = 0, fine_base: int = 16, box_h: int = 80, box_w: int = 120, margin: int = 16):
        super().__init__()
        self.record(size=size, coarse=coarse, base=base, fc=fc, content=content, code=code, fine_base=fine_base,
                    box_h=box_h, box_w=box_w, margin=margin)
        self.size, self.coarse_size = size, coarse
        self.box_h, self.box_w, self.margin = box_h, box_w, margin
        self.coarse = InpaintGenerator(coarse, base, fc, content, code)
        self.fine = FineNet(fine_base)

    def grids(self, boxes: torch.Tensor):
        return window_grids(boxes, self.size, self.box_h, self.box_w, self.margin)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, content: torch.Tensor,
                r: torch.Tensor | None = None, boxes: torch.Tensor | None = None, grids=None,
                coarse_mask: torch.Tensor | None = None) -> torch.Tensor:
        """`grids` (window_grids) and `coarse_mask` (the mask at `coarse` px) may be given as a
        graph's constants; otherwise they are computed from `boxes` and `mask`."""
        if grids is None:
            if boxes is None:
                raise ValueError("the coarse-to-fine generator needs the eye boxes")
            grids = self.grids(boxes)
        # Cast only when needed: a no-op cast in an exported graph breaks its fp16 conversion.
        crop_grid, paste_grid = (g if g.dtype == image.dtype else g.to(image.dtype) for g in grids)
        b, size = image.shape[0], self.size
        masked = image * (1 - mask)
        # Coarse: the MM generator on the downscaled face (paper silent on the resampling: the mean
        # of each k x k block, an area downscale without aliasing that every runtime exports).
        small = F.avg_pool2d(image, self.size // self.coarse_size)
        if coarse_mask is None:
            coarse_mask = small_mask(mask, self.coarse_size)
        coarse = self.coarse(small, coarse_mask, content, r)
        coarse_up = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
        # Fine: both eye windows of every face in one batch of patches.
        stack = torch.cat([masked, mask, coarse_up], 1)
        src = stack.unsqueeze(1).expand(b, 2, *stack.shape[1:]).flatten(0, 1)
        patches = F.grid_sample(src, crop_grid, mode="bilinear", align_corners=False,
                                padding_mode="border")
        m = self.margin
        refined = patches[:, 4:7] + self.fine(patches)  # coarse fill + bounded residual
        inner = refined[:, :, m:m + self.box_h, m:m + self.box_w]
        placed = F.grid_sample(inner, paste_grid, mode="bilinear", align_corners=False,
                               padding_mode="zeros")
        fill = placed.view(b, 2, 3, size, size).sum(1)
        return masked + fill * mask


def make_generator(cfg, code: int) -> nn.Module:
    """G_x (code 0) or G_y (code 2) of a training config: coarse-to-fine with --cfm."""
    if cfg.cfm:
        return CoarseToFineGenerator(cfg.size, cfg.coarse, cfg.base, cfg.fc, cfg.fc, code, cfg.fine_base,
                                     cfg.box_h, cfg.box_w, cfg.margin)
    return InpaintGenerator(cfg.size, cfg.base, cfg.fc, cfg.fc, code=code)
