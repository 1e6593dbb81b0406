"""The exported graphs: whole corrector steps with the eye geometry baked in as constants.

In the live app the eyes always land on the same aligned pixels, so the mask, the eye boxes and the
crop sampling grid are constants; an engine takes the aligned face and returns the corrected one.
  GxGraph:      image (1,3,S,S) in [-1,1]           -> G_x(image) (E_c inside); `regional` computes
                the full-resolution layers around the eye boxes only (engines.regional, the CPU graph)
  AnimateGraph: image, alpha (1,) (0 own gaze, 1 eye contact) -> G_y with r and c interpolated
Either holds the MM 2020 generators or the 512 px coarse-to-fine ones (training.cfm), whose eye
windows' sampling grids are constants as well.
"""
from __future__ import annotations

import torch
from torch import nn

from training.geometry import EyeGeometry
from training.networks import boxes_mask, eye_grid, run_generator, sample_crops, small_mask


def geometry_boxes(geometry: EyeGeometry) -> torch.Tensor:
    """(1,2,4) eye boxes of a model's geometry (training.geometry), as a graph constant."""
    return torch.from_numpy(geometry.boxes()).unsqueeze(0)


def is_cfm(g: nn.Module) -> bool:
    """A coarse-to-fine generator (training.cfm): it refines windows around its eye boxes."""
    return hasattr(g, "grids")


class _FixedMask(nn.Module):
    """A generator called without its mask argument (the mask is a constant of the graph); a
    coarse-to-fine one gets its eye-window sampling grids as constants too."""

    def __init__(self, g: nn.Module, mask: torch.Tensor, boxes: torch.Tensor | None = None):
        super().__init__()
        self.g = g
        self.register_buffer("mask", mask)
        self.cfm = is_cfm(g)
        if self.cfm:
            crop_grid, paste_grid = g.grids(boxes)
            self.register_buffer("crop_grid", crop_grid)
            self.register_buffer("paste_grid", paste_grid)
            self.register_buffer("coarse_mask", small_mask(mask, g.coarse_size))

    def forward(self, image, content, r=None):
        if self.cfm:
            return self.g(image, self.mask, content, r, grids=(self.crop_grid, self.paste_grid),
                          coarse_mask=self.coarse_mask)
        return self.g(image, self.mask, content) if r is None else self.g(image, self.mask, content, r)


def _masked(g: nn.Module, mask: torch.Tensor, regional: int | None, int8: bool,
            boxes: torch.Tensor | None = None) -> nn.Module:
    """g with the mask baked in: computed around the eye boxes only when `regional` is given (a
    coarse-to-fine generator never is: its full-resolution work is already the eye windows)."""
    if regional is None or is_cfm(g):
        return _FixedMask(g, mask, boxes)
    from engines.regional import RegionalGenerator

    return RegionalGenerator(g, mask, regional, int8)


class _Geometry(nn.Module):
    def __init__(self, size: int, boxes: torch.Tensor, crop: int):
        super().__init__()
        self.register_buffer("mask", boxes_mask(boxes, size))
        # The crop sampling grid is a constant too (and ONNX opset 18 has no AffineGrid).
        self.register_buffer("grid", eye_grid(boxes, size, crop))

    def crops(self, image: torch.Tensor) -> torch.Tensor:
        return sample_crops(image, self.grid)


class GxGraph(_Geometry):
    """G_x on the aligned face; a student generator of a smaller size runs on a downscaled copy
    and only its in-painted boxes are scaled back (everything else stays the input).
    `regional`: the instance-norm statistics stride of RegionalGenerator (computing the generator's
    full-resolution layers around its eye boxes only), for the CPU graphs."""

    def __init__(self, ec: nn.Module, gx: nn.Module, size: int, boxes: torch.Tensor, crop: int,
                 regional: int | None = None, int8: bool = False):
        super().__init__(size, boxes, crop)
        self.ec, self.gx = ec, gx
        self.gen_size = gx.args["size"]
        if is_cfm(gx):  # the whole corrector at its own size, eye windows as constants
            regional = None
            self.fixed = _FixedMask(gx, self.mask, boxes)
        self.register_buffer("mask_small", small_mask(self.mask, self.gen_size))
        own_mask = self.mask if self.gen_size == size else self.mask_small
        self.regional = None if regional is None else _masked(gx, own_mask, regional, int8)
        # run_generator passes the mask; the regional generator has its own baked in.
        self._generate = None if regional is None else (lambda img, _mask, content: self.regional(img, content))
        if is_cfm(gx):
            self._generate = lambda img, _mask, content: self.fixed(img, content)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        c = self.ec(self.crops(image).flatten(0, 1)).reshape(image.shape[0], -1)
        return run_generator(self._generate or self.gx, image, self.mask, c, self.gen_size, self.mask_small)


class AnimateGraph(_Geometry):
    def __init__(self, ec, gx, gy, er, size: int, boxes: torch.Tensor, crop: int,
                 regional: int | None = None, int8: bool = False):
        super().__init__(size, boxes, crop)
        self.ec, self.er = ec, er
        self.gx = _masked(gx, self.mask, regional, int8, boxes)
        self.gy = _masked(gy, self.mask, regional, int8, boxes)

    def forward(self, image: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        b = image.shape[0]
        crops = self.crops(image)
        c_y = self.ec(crops.flatten(0, 1)).reshape(b, -1)
        r_y = self.er(crops)
        y2x = self.gx(image, c_y)
        crops_x = self.crops(y2x)
        c_x = self.ec(crops_x.flatten(0, 1)).reshape(b, -1)
        r_x = self.er(crops_x)
        a = alpha.reshape(-1, 1)
        return self.gy(image, a * c_x + (1 - a) * c_y, a * r_x + (1 - a) * r_y)
