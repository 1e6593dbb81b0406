"""The constructor arguments a network may be built with, checked before anything is allocated.

A checkpoint records each network's kind and arguments, and the command line sets the same
widths; both are checked here first. An unchecked width is costly: `base = 512` asks for about
4 GB per layer before any weight is compared, and an unknown argument would be a traceback.
The ranges span what this network can be trained with on one GPU: from tiny test models up to
four times the reference widths and twice the reference image size.

Standard library only: `python -m training.train --dry-run` checks its widths without torch.
"""
from __future__ import annotations

# name: (lowest, highest, step, unit). The reference model: size 256, crop 64, base 16 (E_r and
# D: 32), fc and content 256, code 0 (G_x) or 2 (G_y, E_r). The largest generator these allow
# has about 0.5G parameters (2 GB in fp32).
RANGES = {
    "size": (64, 512, 32, "pixels, a multiple of 32"),
    "crop": (8, 128, 8, "pixels, a multiple of 8"),
    "base": (1, 64, 1, "channels"),
    "fc": (1, 512, 1, "features"),
    "content": (1, 512, 1, "features"),
    "code": (0, 16, 1, "features"),
    # The coarse-to-fine generator (training.cfm): its coarse in-painting size, the width of its
    # fine network and the eye boxes it refines (pixels at `size`) with the context around them.
    "coarse": (64, 512, 32, "pixels, a multiple of 32"),
    "fine_base": (1, 64, 1, "channels"),
    "box_h": (1, 512, 1, "pixels"),
    "box_w": (1, 512, 1, "pixels"),
    "margin": (0, 64, 1, "pixels"),
}
# The angle encoder and the discriminators are twice as wide at the reference and grow slower.
WIDE = {"angle_encoder", "discriminator"}

# Each network kind's constructor arguments (training.networks.build takes these names).
KINDS = {
    "pam": ("crop", "base", "fc"),
    "content_encoder": ("crop", "base", "fc"),
    "angle_encoder": ("crop", "base", "code"),
    "generator": ("size", "base", "fc", "content", "code"),
    "discriminator": ("size", "crop", "base"),
    "cfm_generator": ("size", "coarse", "base", "fc", "content", "code", "fine_base", "box_h", "box_w", "margin"),
}


def range_error(name: str, value, kind: str = "generator") -> str | None:
    """What is wrong with one argument's value ('expected ...'), or None when it is in range."""
    low, high, step, unit = RANGES[name]
    if name == "base" and kind in WIDE:
        high *= 2
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high or value % step:
        return f"expected an integer from {low} to {high} ({unit})"
    return None


def spec_error(kind, args) -> str | None:
    """What is wrong with a recorded network (kind + arguments), or None when it can be built."""
    if kind not in KINDS:
        return f"unknown network kind {kind!r} (expected one of {', '.join(KINDS)})"
    if not isinstance(args, dict):
        return "its arguments are not a table of names and values"
    for name in args:
        if name not in KINDS[kind]:
            return f"unknown argument {name!r} for a {kind} (expected {', '.join(KINDS[kind])})"
    for name, value in args.items():
        why = range_error(name, value, kind)
        if why:
            return f"argument {name} = {value!r}: {why}"
    size = args.get("size", 512)
    for name in ("crop", "coarse", "box_h", "box_w"):
        if name in args and args[name] > size:
            return f"argument {name} = {args[name]}: expected at most size ({size})"
    if kind == "cfm_generator":
        if size % args.get("coarse", 256):
            return f"argument coarse = {args.get('coarse')}: expected a divisor of size ({size})"
        return window_error(args.get("box_h", 80), args.get("box_w", 120), args.get("margin", 16))
    return None


def window_error(box_h: int, box_w: int, margin: int) -> str | None:
    """The fine network halves its eye windows twice: each side must be a multiple of 4."""
    for name, side in (("box_h", box_h), ("box_w", box_w)):
        if (side + 2 * margin) % 4:
            return (f"argument {name} = {side} with margin {margin}: expected {name} + 2 x margin to be a "
                    "multiple of 4 (the fine network halves the eye window twice)")
    return None
