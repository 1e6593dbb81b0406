"""G_x computed only where its output is used: the CPU route to the live frame rate.

G_x's output outside the eye boxes is the input itself, so the two full-resolution layers at the end
of the decoder (the last up-convolution and the 7x7 output convolution, more than a third of the
CPU time) only need computing in a window around the boxes. The output convolution has no
normalisation after it, so windowing it is exact. The last up-convolution is followed by an instance
norm, whose mean and variance cover the whole image: they come from the whole image (`stats_stride`
1, exact) or from every k-th position of it (k > 1: k*k times less work for the statistics, an
approximation). The export uses 1: with k = 2 the int8 graph was 10% faster but kept only
34.3-37.5 dB against fp32 on three checkpoints, under the 35 dB bar for one of them.

The up-convolution (ConvTranspose 4x4, stride 2, pad 1) is rewritten as the equivalent 3x3
convolution with four output phases and a pixel shuffle, which can be evaluated on a window or on
a strided grid of positions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# For output phase a (row 2m + a) of a ConvTranspose(4, 2, 1): {window row t (input row m-1+t): kernel row}.
_PHASE_TAPS = {0: {0: 3, 1: 1}, 1: {1: 2, 2: 0}}


def subpixel_weight(w: torch.Tensor) -> torch.Tensor:
    """ConvTranspose2d(4, stride 2, pad 1) weight (cin, cout, 4, 4) -> Conv2d(3, pad 1) weight
    (4*cout, cin, 3, 3) whose output channel c*4 + 2a + b is phase (a, b) of output channel c."""
    cin, cout = w.shape[:2]
    k = w.new_zeros(cout, 2, 2, cin, 3, 3)
    for a, rows in _PHASE_TAPS.items():
        for b, cols in _PHASE_TAPS.items():
            for t, ky in rows.items():
                for u, kx in cols.items():
                    k[:, a, b, :, t, u] = w[:, :, ky, kx].t()
    return k.reshape(cout * 4, cin, 3, 3)


class SubpixelUp(nn.Module):
    """A ConvTranspose2d(4, 2, 1) as a 3x3 convolution and a pixel shuffle: the same numbers, and a
    plain Conv that ONNX Runtime quantizes to int8 (it leaves ConvTranspose in float)."""

    def __init__(self, convt: nn.ConvTranspose2d):
        super().__init__()
        self.conv = nn.Conv2d(convt.in_channels, convt.out_channels * 4, 3, 1, 1)
        with torch.no_grad():
            self.conv.weight.copy_(subpixel_weight(convt.weight))
            self.conv.bias.copy_(convt.bias.repeat_interleave(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


def mask_region(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """Bounding box (y0, y1, x0, x1), end exclusive, of the nonzero pixels of a (1,1,S,S) mask."""
    ys, xs = torch.nonzero(mask[0, 0] > 0, as_tuple=True)
    if ys.numel() == 0:
        raise ValueError("the eye-box mask is empty")
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def _window(t: torch.Tensor, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
    """t[..., r0:r1, c0:c1], zero-padded where the window leaves the tensor."""
    h, w = t.shape[-2:]
    inner = t[..., max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
    pads = (max(-c0, 0), max(c1 - w, 0), max(-r0, 0), max(r1 - h, 0))
    return F.pad(inner, pads) if any(pads) else inner


class RegionalGenerator(nn.Module):
    """An InpaintGenerator (G_x or G_y) for one fixed mask: same weights, same call without the mask
    argument: (image, content[, r]) -> corrected image. `int8`: shaped for int8 quantization: the
    other up-convolutions as SubpixelUp too, and the 3-channel output convolution padded to 16
    zero channels (ONNX Runtime's int8 kernels are three times faster with 16 than with 3)."""

    def __init__(self, gx: nn.Module, mask: torch.Tensor, stats_stride: int = 1, int8: bool = False):
        super().__init__()
        if mask.shape[-1] != gx.args["size"]:
            raise ValueError(f"mask is {mask.shape[-1]} px, the generator {gx.args['size']} px")
        self.gx, self.stats_stride = gx, int(stats_stride)
        self.ups = nn.ModuleList(nn.Sequential(SubpixelUp(up[0]), *up[1:]) if int8 else up
                                 for up in gx.ups[:-1])
        self.register_buffer("mask", mask)
        self.register_buffer("inverse", 1 - mask)
        out_w, out_b = gx.out.weight.detach(), gx.out.bias.detach()
        if int8:
            out_w = torch.cat([out_w, out_w.new_zeros(16 - out_w.shape[0], *out_w.shape[1:])])
            out_b = torch.cat([out_b, out_b.new_zeros(16 - out_b.shape[0])])
        self.register_buffer("out_weight", out_w)
        self.register_buffer("out_bias", out_b)
        self.size = mask.shape[-1]
        y0, y1, x0, x1 = self.region = mask_region(mask)
        last = gx.ups[-1]
        self.register_buffer("up_weight", subpixel_weight(last[0].weight.detach()))
        self.register_buffer("up_bias", last[0].bias.detach().repeat_interleave(4))
        self.norm = last[1]
        halo = gx.out.kernel_size[0] // 2
        # Rows/columns the output conv reads (inside the image), and the zero halo beyond it.
        self.rows = (max(y0 - halo, 0), min(y1 + halo, self.size))
        self.cols = (max(x0 - halo, 0), min(x1 + halo, self.size))
        self.halo = (self.cols[0] - (x0 - halo), x1 + halo - self.cols[1],
                     self.rows[0] - (y0 - halo), y1 + halo - self.rows[1])

    def _last_up(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's last step (up-conv, instance norm, ReLU) on the output window only."""
        (r0, r1), (c0, c1) = self.rows, self.cols
        m0, m1, n0, n1 = r0 // 2, (r1 + 1) // 2, c0 // 2, (c1 + 1) // 2
        window = F.conv2d(_window(x, m0 - 1, m1 + 1, n0 - 1, n1 + 1), self.up_weight, self.up_bias)
        window = F.pixel_shuffle(window, 2)[..., r0 - 2 * m0:r1 - 2 * m0, c0 - 2 * n0:c1 - 2 * n0]
        sample = F.conv2d(x, self.up_weight, self.up_bias, stride=self.stats_stride, padding=1)
        sample = sample.reshape(1, self.norm.num_features, -1)
        mean = sample.mean(2).view(1, -1, 1, 1)
        var = sample.var(2, unbiased=False).view(1, -1, 1, 1)
        scale = torch.rsqrt(var + self.norm.eps) * self.norm.weight.view(1, -1, 1, 1)
        return F.relu((window - mean) * scale + self.norm.bias.view(1, -1, 1, 1))

    def forward(self, image: torch.Tensor, content: torch.Tensor, r: torch.Tensor | None = None) -> torch.Tensor:
        g = self.gx
        masked = image * self.inverse
        h = g.stem(torch.cat([masked, self.mask], 1))
        skips = [h]
        for down in g.downs:
            h = down(h)
            skips.append(h)
        parts = [g.fc_in(h.flatten(1))] + ([r] if g.code else []) + [content]
        h = F.relu(g.fc_out(torch.cat(parts, 1))).view_as(skips[-1])
        for i, up in enumerate(self.ups):
            h = up(torch.cat([h, skips[5 - i]], 1))
        (r0, r1), (c0, c1) = self.rows, self.cols
        feat = torch.cat([self._last_up(torch.cat([h, skips[1]], 1)), skips[0][..., r0:r1, c0:c1]], 1)
        if any(self.halo):
            feat = F.pad(feat, self.halo)
        fill = torch.tanh(F.conv2d(feat, self.out_weight, self.out_bias)[:, :3])
        y0, y1, x0, x1 = self.region
        fill = F.pad(fill, (x0, self.size - x1, y0, self.size - y1))
        return masked + fill * self.mask
