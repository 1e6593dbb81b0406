"""The whole gaze step (forward, both backwards, the four Adam steps) as one CUDA graph.

Why: eagerly, the GPU step is launch-bound. Session-1 profile on an H100: about 220 ms of CPU time
launching some thousands of small kernels per step, against 63 ms of GPU work. A replayed graph
launches all of them with one call. This follows PyTorch's "whole network capture" recipe: static
input tensors, warm-up iterations on a side stream (cuDNN autotuning, Adam state allocation),
then capture once and replay every step. The optimisers are fused, `capturable`, and read their
learning rate from a device tensor, so the schedule still applies (Trainer.settle_optimizers).

The warm-up iterations would train on the first batch, so the models' and optimisers' state is put
back afterwards: step 1 of a graphed run is step 1 of an eager run. Single process only (the
Trainer does not use this under torchrun).
"""
from __future__ import annotations

import logging

import torch

log = logging.getLogger("training")

WARMUP_STEPS = 3  # PyTorch's recipe warms up for 3 iterations before capture


class GraphedStep:
    """Callable like Trainer.gaze_step(xb, yb): copies the batch into the graph's input tensors,
    replays the graph and returns its (static) tensor of loss values."""

    def __init__(self, trainer, xb: dict, yb: dict):
        self.inputs = ({k: xb[k].clone() for k in ("image", "boxes")},
                       {k: yb[k].clone() for k in ("image", "boxes")})
        saved = _snapshot(trainer)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                trainer.gaze_step(*self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        _restore(trainer, saved)
        self.graph = torch.cuda.CUDAGraph()
        for opt in trainer.opt.values():
            opt.zero_grad(set_to_none=True)  # the gradients are allocated inside the graph's pool
        with torch.cuda.graph(self.graph):
            self.values = trainer.gaze_step(*self.inputs)
        log.info("gaze step captured as a CUDA graph (%d warm-up steps, undone)", WARMUP_STEPS)

    def __call__(self, xb: dict, yb: dict) -> torch.Tensor:
        for static, batch in zip(self.inputs, (xb, yb)):
            for k, t in static.items():
                t.copy_(batch[k], non_blocking=True)
        self.graph.replay()
        return self.values


def _snapshot(trainer) -> dict:
    """Copies of every network's state and every optimiser's per-parameter state."""
    nets = {k: {n: t.detach().clone() for n, t in net.state_dict().items()} for k, net in trainer.nets.items()}
    opts = {k: {p: {s: v.clone() for s, v in opt.state[p].items() if torch.is_tensor(v)}
                for g in opt.param_groups for p in g["params"] if p in opt.state}
            for k, opt in trainer.opt.items()}
    return {"nets": nets, "opts": opts}


def _restore(trainer, saved: dict) -> None:
    """Puts the snapshot back in place: the tensors keep their addresses, which the graph records.
    Optimiser state made during the warm-up (a fresh run) goes back to zero, as Adam starts it."""
    for k, net in trainer.nets.items():
        net.load_state_dict(saved["nets"][k])
    with torch.no_grad():
        for k, opt in trainer.opt.items():
            for group in opt.param_groups:
                for p in group["params"]:
                    before = saved["opts"][k].get(p, {})
                    for s, v in opt.state.get(p, {}).items():
                        if torch.is_tensor(v):
                            v.copy_(before[s]) if s in before else v.zero_()
