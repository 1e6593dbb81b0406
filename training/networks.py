"""The GazeGAN networks: G_pre (PAM autoencoder, encoder E_c), G_x, G_y with E_r, and D.

Layer plan from the paper's supplementary tables, following the official code where they are
silent or disagree (U-Net skips, output = masked input + tanh * mask, one content code per eye).
Sizes are parameters: `size` (256; 512 for later work), `crop` (the eye crop side, 64), `base`
(first conv width, 16) and `fc` (bottleneck width, 256); the defaults give the reference
22.0M-parameter G_x. The 512 px model's coarse-to-fine generator is in training.cfm. Every constructor argument is recorded so checkpoints rebuild the network.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _down(cin: int, cout: int, k: int = 4, s: int = 2, norm: bool = True) -> nn.Sequential:
    pad = (k - s + 1) // 2 if s == 2 else k // 2
    layers = [nn.Conv2d(cin, cout, k, s, pad)]
    if norm:
        layers.append(nn.InstanceNorm2d(cout, affine=True))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.InstanceNorm2d(cout, affine=True),
                         nn.ReLU(inplace=True))


class Recorded(nn.Module):
    """Keeps the constructor's keyword arguments in `self.args` for self-describing checkpoints."""

    def record(self, **args) -> None:
        self.args = dict(args)


class ContentEncoder(Recorded):
    """E_c: one eye crop -> angle-invariant content code c (the PAM encoder)."""

    def __init__(self, crop: int = 64, base: int = 16, fc: int = 256):
        super().__init__()
        self.record(crop=crop, base=base, fc=fc)
        self.convs = nn.Sequential(_down(3, base, 7, 1), _down(base, base * 2), _down(base * 2, base * 4),
                                   _down(base * 4, base * 8))
        self.fc = nn.Linear(base * 8 * (crop // 8) ** 2, fc)

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(crop).flatten(1))


class ContentDecoder(Recorded):
    """The PAM decoder: content code -> eye crop."""

    def __init__(self, crop: int = 64, base: int = 16, fc: int = 256):
        super().__init__()
        self.record(crop=crop, base=base, fc=fc)
        self.side = crop // 8
        self.base = base
        self.fc = nn.Linear(fc, base * 8 * self.side ** 2)
        self.ups = nn.Sequential(_up(base * 8, base * 4), _up(base * 4, base * 2), _up(base * 2, base))
        self.out = nn.Conv2d(base, 3, 7, 1, 3)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc(c)).view(-1, self.base * 8, self.side, self.side)
        return torch.tanh(self.out(self.ups(h)))


class PAMAutoencoder(Recorded):
    """G_pre: trained by self-supervised mirror learning; its encoder becomes E_c."""

    def __init__(self, crop: int = 64, base: int = 16, fc: int = 256):
        super().__init__()
        self.record(crop=crop, base=base, fc=fc)
        self.encoder = ContentEncoder(crop, base, fc)
        self.decoder = ContentDecoder(crop, base, fc)

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(crop))


class AngleEncoder(Recorded):
    """E_r: both eye crops stacked on channels -> the 2-D angle code r."""

    def __init__(self, crop: int = 64, base: int = 32, code: int = 2):
        super().__init__()
        self.record(crop=crop, base=base, code=code)
        self.convs = nn.Sequential(_down(6, base, 7, 1), _down(base, base * 2), _down(base * 2, base * 4),
                                   _down(base * 4, base * 4))
        self.fc = nn.Linear(base * 4 * (crop // 8) ** 2, code)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """crops: (B, 2, 3, crop, crop)."""
        return self.fc(self.convs(crops.flatten(1, 2)).flatten(1))


class InpaintGenerator(Recorded):
    """G_x (code=0) or G_y (code=2): in-paints the masked eye boxes.

    Input: image in [-1, 1], mask (1 in the eye boxes), content codes of both eyes, and for G_y the
    angle code r. Output = image * (1 - mask) + tanh(decoder) * mask: pixels outside the mask are
    the input's, exactly.
    """

    def __init__(self, size: int = 256, base: int = 16, fc: int = 256, content: int = 256, code: int = 0):
        super().__init__()
        self.record(size=size, base=base, fc=fc, content=content, code=code)
        chans = [base, base * 2, base * 4, base * 8, base * 16, base * 16]
        self.side = size // 32
        self.code = code
        self.stem = _down(4, chans[0], 7, 1)
        self.downs = nn.ModuleList(_down(chans[i], chans[i + 1]) for i in range(5))
        top = chans[-1] * self.side ** 2
        self.fc_in = nn.Linear(top, fc)
        self.fc_out = nn.Linear(fc + code + 2 * content, top)
        # Decoder: each step sees its input concatenated with the encoder feature of the same size.
        self.ups = nn.ModuleList(_up(chans[5 - i] * 2, chans[4 - i]) for i in range(5))
        self.out = nn.Conv2d(chans[0] * 2, 3, 7, 1, 3)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, content: torch.Tensor,
                r: torch.Tensor | None = None, boxes: torch.Tensor | None = None) -> torch.Tensor:
        """image (B,3,S,S), mask (B,1,S,S), content (B, 2*content), r (B, code) for G_y. `boxes`
        is for the coarse-to-fine generator's call (training.cfm), which needs them; unused here."""
        masked = image * (1 - mask)
        h = self.stem(torch.cat([masked, mask], 1))
        skips = [h]
        for down in self.downs:
            h = down(h)
            skips.append(h)
        parts = [self.fc_in(h.flatten(1))]
        if self.code:
            parts.append(r)
        parts.append(content)
        h = F.relu(self.fc_out(torch.cat(parts, 1))).view_as(skips[-1])
        for i, up in enumerate(self.ups):
            h = up(torch.cat([h, skips[5 - i]], 1))
        fill = torch.tanh(self.out(torch.cat([h, skips[0]], 1)))
        return masked + fill * mask


class Discriminator(Recorded):
    """D_x / D_y: a global branch on the face and a local branch on the two eye crops, joined by
    fully connected layers; spectral normalisation on every layer, no other normalisation."""

    def __init__(self, size: int = 256, crop: int = 64, base: int = 32):
        super().__init__()
        self.record(size=size, crop=crop, base=base)
        sn = spectral_norm
        chans = [base, base * 2, base * 4, base * 8, base * 8]

        def branch(cin, depth=5):
            layers, c = [], cin
            for co in chans[:depth]:
                layers += [sn(nn.Conv2d(c, co, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
                c = co
            return nn.Sequential(*layers)

        # The local branch stops at 2x2 for small crops (64 -> five layers, as in the paper).
        local_depth = min(5, int(crop).bit_length() - 2)
        self.global_convs = branch(3)
        self.local_convs = branch(6, local_depth)
        self.global_fc = sn(nn.Linear(chans[-1] * (size // 32) ** 2, 256))
        self.local_fc = sn(nn.Linear(chans[local_depth - 1] * (crop >> local_depth) ** 2, 512))
        self.head = nn.Sequential(nn.LeakyReLU(0.2), sn(nn.Linear(768, 1024)), nn.ReLU(inplace=True),
                                  sn(nn.Linear(1024, 1)))

    def forward(self, image: torch.Tensor, crops: torch.Tensor) -> torch.Tensor:
        g = self.global_fc(self.global_convs(image).flatten(1))
        l_ = self.local_fc(self.local_convs(crops.flatten(1, 2)).flatten(1))
        return self.head(torch.cat([g, l_], 1)).squeeze(1)


def eye_grid(boxes: torch.Tensor, size: int, crop: int = 64, dtype=torch.float32) -> torch.Tensor:
    """Sampling grid (B*2, crop, crop, 2) that resizes each box [x0,y0,x1,y1 px] to crop x crop."""
    b = boxes.shape[0]
    boxes = boxes.to(dtype)
    x0, y0, x1, y1 = boxes.unbind(-1)
    # Normalised (align_corners=False) scale and centre of each box.
    sx, sy = (x1 - x0) / size, (y1 - y0) / size
    cx, cy = (x0 + x1) / size - 1, (y0 + y1) / size - 1
    theta = torch.zeros(b, 2, 2, 3, dtype=dtype, device=boxes.device)
    theta[..., 0, 0], theta[..., 0, 2] = sx, cx
    theta[..., 1, 1], theta[..., 1, 2] = sy, cy
    return F.affine_grid(theta.flatten(0, 1), [b * 2, 3, crop, crop], align_corners=False)


def sample_crops(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """(B,3,S,S) and an eye_grid -> (B,2,3,crop,crop)."""
    b = image.shape[0]
    src = image.unsqueeze(1).expand(b, 2, *image.shape[1:]).flatten(0, 1)
    out = F.grid_sample(src, grid.to(image.dtype), mode="bilinear", align_corners=False)
    return out.view(b, 2, 3, grid.shape[1], grid.shape[2])


def crop_eyes(image: torch.Tensor, boxes: torch.Tensor, crop: int = 64) -> torch.Tensor:
    """Differentiable eye crops: (B,3,S,S) and boxes (B,2,4) -> (B,2,3,crop,crop), each box resized to
    crop x crop (aspect ratio not kept), as the official code does."""
    return sample_crops(image, eye_grid(boxes, image.shape[-1], crop, image.dtype))


def small_mask(mask: torch.Tensor, gen_size: int) -> torch.Tensor:
    """The eye-box mask at a student generator's resolution."""
    return (F.interpolate(mask, size=(gen_size, gen_size), mode="bilinear", align_corners=False) > 0).float()


def run_generator(gx: nn.Module, image: torch.Tensor, mask: torch.Tensor, content: torch.Tensor,
                  gen_size: int, mask_small: torch.Tensor | None = None) -> torch.Tensor:
    """G_x at its own resolution, composited into the full-resolution image."""
    size = image.shape[-1]
    if gen_size == size:
        return gx(image, mask, content)
    small = F.interpolate(image, size=(gen_size, gen_size), mode="bilinear", align_corners=False,
                          antialias=False)
    if mask_small is None:
        mask_small = small_mask(mask, gen_size)
    fill = F.interpolate(gx(small, mask_small, content), size=(size, size), mode="bilinear", align_corners=False)
    return image * (1 - mask) + fill * mask


def boxes_mask(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(B,2,4) integer boxes -> (B,1,S,S) mask with ones inside both boxes."""
    ar = torch.arange(size, device=boxes.device)
    xs = ar.view(1, 1, 1, size)
    ys = ar.view(1, 1, size, 1)
    inside = ((xs >= boxes[..., 0, None, None]) & (xs < boxes[..., 2, None, None]) &
              (ys >= boxes[..., 1, None, None]) & (ys < boxes[..., 3, None, None]))
    return inside.any(1, keepdim=True).float()


def build(kind: str, **args) -> nn.Module:
    """Rebuild a network from its recorded arguments (checkpoints store kind + args)."""
    from training.cfm import CoarseToFineGenerator

    classes = {"pam": PAMAutoencoder, "content_encoder": ContentEncoder, "angle_encoder": AngleEncoder,
               "generator": InpaintGenerator, "discriminator": Discriminator,
               "cfm_generator": CoarseToFineGenerator}
    return classes[kind](**args)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
