"""GazeGAN losses, one function per term of the paper (section 3, eqs. 2-11), plus the optional
VGG perceptual/style term of the official code."""
from __future__ import annotations

import logging
import os

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


def d_adversarial(real_logits: torch.Tensor, *fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator side of eqs. 7/8, non-saturating softplus form: real -> 1, each fake -> 0."""
    loss = F.softplus(-real_logits).mean()
    for fake in fake_logits:
        loss = loss + F.softplus(fake).mean()
    return loss


def g_adversarial(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator side: make D call the fake real."""
    return F.softplus(-fake_logits).mean()


def masked_l1(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, box_area: int) -> torch.Tensor:
    """Eqs. 2, 4, 6: L1 over the eye boxes, normalised as the official code does
    (sum of |diff| / (crop_h * crop_w * 3)), averaged over the batch."""
    return ((output - target).abs() * mask).sum(dim=(1, 2, 3)).mean() / (box_area * 3)


def recon_x(x_tilde, x, mask, box_area):
    """l_recon^x (eq. 2): G_x in-paints x's own eyes."""
    return masked_l1(x_tilde, x, mask, box_area)


def recon_y(y_tilde, y, mask, box_area):
    """l_recon^y (eq. 4): G_y in-paints y's own eyes from r_y."""
    return masked_l1(y_tilde, y, mask, box_area)


def synthesis_as_training(y_hat, y_x_tilde, mask, box_area):
    """l_recon^{y~x} (eq. 6): G_y reproduces the G_x-corrected sample from its own r."""
    return masked_l1(y_hat, y_x_tilde.detach(), mask, box_area)


def latent_reconstruction(r_y, r_of_y_tilde, r_yx, r_of_y_hat) -> torch.Tensor:
    """l_fp (eq. 9): angle codes survive the round trip through G_y."""
    return (r_y - r_of_y_tilde).abs().mean() + (r_yx - r_of_y_hat).abs().mean()


def mirror_loss(pam: nn.Module, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """l_pre (section 3.3): each eye is rebuilt from itself and from the mirrored other eye."""
    flip = lambda t: torch.flip(t, dims=[-1])  # noqa: E731
    return ((left - pam(left)).abs().mean() + (left - pam(flip(right))).abs().mean()
            + (right - pam(right)).abs().mean() + (right - pam(flip(left))).abs().mean())


# --- optional VGG16 perceptual / style term (official code: weight 100 on the eye crops) ---

_VGG_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_STYLE_LAYERS = {3: "conv1_2", 8: "conv2_2", 15: "conv3_3", 22: "conv4_3"}
_CONTENT_LAYER = 29  # conv5_3 (after ReLU)


class VGGLoss(nn.Module):
    """Gram-matrix style loss at conv1_2..conv4_3 and content loss at conv5_3 of VGG16.

    Weights come from a local torchvision-format state dict (keys `features.N.weight`); these
    machines cannot download them, so the term is used only when such a file is given.
    """

    def __init__(self, weights_path: str):
        super().__init__()
        layers, c = [], 3
        for v in _VGG_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
                c = v
        self.features = nn.Sequential(*layers)
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        self.features.load_state_dict(state)
        self.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def _feats(self, x):
        x = ((x + 1) / 2 - self.mean) / self.std
        out = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _STYLE_LAYERS or i == _CONTENT_LAYER:
                out[i] = x
        return out

    @staticmethod
    def _gram(f):
        b, c, h, w = f.shape
        f = f.flatten(2)
        return f @ f.transpose(1, 2) / (c * h * w)

    def forward(self, output_crops: torch.Tensor, target_crops: torch.Tensor) -> torch.Tensor:
        a, b = self._feats(output_crops.flatten(0, 1)), self._feats(target_crops.flatten(0, 1))
        style = sum((self._gram(a[i]) - self._gram(b[i])).abs().mean() for i in _STYLE_LAYERS)
        return style + (a[_CONTENT_LAYER] - b[_CONTENT_LAYER]).abs().mean()


def load_vgg_loss(path: str | None) -> VGGLoss | None:
    """The VGG term when its weights are on disk; otherwise None, with a one-line message."""
    if not path:
        log.warning("VGG perceptual/style term off: no VGG16 weights given (--vgg-weights vgg16.pth, "
                    "a torchvision-format state dict); training uses the paper's losses only")
        return None
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--vgg-weights {path}: no such file (expected a VGG16 state dict)")
    return VGGLoss(path)
