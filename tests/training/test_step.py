"""The gaze step: one batched call per network, warm-up undone, and (on a GPU) its CUDA graph."""
import pytest
import torch

from engines import gpu
from tests.training.conftest import TINY_NETS
from training.stepbench import synthetic_batch
from training.config import TrainConfig
from training.trainer import Trainer

cuda_ok, cuda_why = gpu.torch_cuda()

TINY = dict(TINY_NETS, batch=4, workers=0, amp=False)


def _trainer(device="cpu", **kw) -> Trainer:
    return Trainer(TrainConfig(device=device, **{**TINY, **kw}))


def _batches(trainer, seed=1):
    torch.manual_seed(seed)
    cfg = trainer.cfg
    xb, yb = synthetic_batch(cfg, trainer.device), synthetic_batch(cfg, trainer.device)
    xb["boxes"][1] += torch.tensor([[3, -2, 3, -2], [1, 2, 1, 2]])  # not every row alike
    return trainer.to_device(xb), trainer.to_device(yb)


def test_batched_forward_equals_one_call_per_input():
    """gaze_forward runs G_x once on x and y together, and G_y on y and G_x(y) together: the same
    images as running each network on each input alone (no layer mixes samples)."""
    t = _trainer()
    xb, yb = _batches(t)
    n, cfg = t.nets, t.cfg
    with torch.no_grad():
        o = t.gaze_forward(xb, yb)
        from training.networks import boxes_mask, crop_eyes
        ec = n["pam"].encoder
        code = lambda crops: ec(crops.flatten(0, 1)).view(crops.shape[0], -1)  # noqa: E731
        x, y, bx, by = xb["image"], yb["image"], xb["boxes"], yb["boxes"]
        mx, my = boxes_mask(bx, cfg.size), boxes_mask(by, cfg.size)
        x_t = n["gx"](x, mx, code(crop_eyes(x, bx, cfg.crop)))
        yx_t = n["gx"](y, my, code(crop_eyes(y, by, cfg.crop)))
        yx_crops = crop_eyes(yx_t, by, cfg.crop)
        r_y, r_yx = n["er"](crop_eyes(y, by, cfg.crop)), n["er"](yx_crops)
        y_t = n["gy"](y, my, code(crop_eyes(y, by, cfg.crop)), r_y)
        y_hat = n["gy"](yx_t, my, code(yx_crops), r_yx)
    for name, alone in dict(x_t=x_t, yx_t=yx_t, y_t=y_t, y_hat=y_hat, r_y=r_y, r_yx=r_yx).items():
        torch.testing.assert_close(o[name], alone, rtol=1e-4, atol=1e-5, msg=name)
    assert not torch.allclose(o["x_t"], o["yx_t"])  # the split did not hand one half to both


def test_warmup_steps_are_undone():
    """The CUDA graph's warm-up trains on the first batch; putting the snapshot back must leave the
    trainer exactly where a fresh one starts (weights, spectral-norm vectors, Adam state)."""
    from training.graphed import _restore, _snapshot
    fresh, warmed = _trainer(), _trainer()
    xb, yb = _batches(fresh)
    saved = _snapshot(warmed)
    for _ in range(2):
        warmed.gaze_step(xb, yb)
    assert not torch.equal(warmed.nets["gx"].out.weight, fresh.nets["gx"].out.weight)
    _restore(warmed, saved)
    for _ in range(2):  # same losses, and so the same updates, for the next steps
        torch.testing.assert_close(warmed.gaze_step(xb, yb), fresh.gaze_step(xb, yb), rtol=1e-5, atol=1e-6)


def test_step_reads_nothing_back_to_the_host():
    """What a CUDA graph needs, checked where no GPU is: no .item(), float(tensor) or `if tensor:`
    inside the step (each is a device sync, which fails a capture). They all dispatch
    aten._local_scalar_dense, which is counted here."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class CountHostReads(TorchDispatchMode):
        reads = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._local_scalar_dense.default:
                CountHostReads.reads += 1
            return func(*args, **(kwargs or {}))

    t = _trainer()
    xb, yb = _batches(t)
    t.gaze_step(xb, yb)  # the optimisers' state is created on the first step
    with CountHostReads():
        values = t.gaze_step(xb, yb)
    assert CountHostReads.reads == 0
    assert values.shape == (len(t.loss_names),)
    with CountHostReads():
        bool(values.sum() > 0)
    assert CountHostReads.reads == 1  # and the counter does see one


def test_learning_rate_schedule_reaches_every_optimiser():
    t = _trainer(iters=10, decay_start=5)
    t.set_lr(["gx", "gy", "dx", "dy"], t.cfg.lr, 7, 10, 5)
    for name in ("gx", "gy", "dx", "dy"):
        assert float(t.opt[name].param_groups[0]["lr"]) == pytest.approx(t.cfg.lr * 3 / 5)
    assert float(t.opt["pam"].param_groups[0]["lr"]) == t.cfg.pam_lr


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_ok, reason=f"needs a CUDA GPU: {cuda_why}")
def test_cuda_graph_step_matches_eager():
    """Replaying the captured step gives the eager step's losses, step after step, and the learning
    rate set between replays takes effect (lr 0 leaves the generator's weights as they are)."""
    eager = _trainer("cuda", cuda_graph=False, channels_last=False)
    graphed = _trainer("cuda", cuda_graph=True, channels_last=False)
    assert graphed.graph_enabled
    torch.backends.cudnn.benchmark = False  # the same kernels on both sides
    torch.backends.cudnn.deterministic = True
    for step in range(3):
        xb, yb = _batches(eager, seed=10 + step)
        a, b = eager.gaze_update(xb, yb), graphed.gaze_update(xb, yb)
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=1e-3, abs=1e-4), (step, k)
    assert graphed.graphed is not None
    graphed.set_lr(["gx", "gy", "dx", "dy"], graphed.cfg.lr, 10, 10, 5)  # factor 0
    before = graphed.nets["gx"].out.weight.detach().clone()
    graphed.gaze_update(*_batches(graphed, seed=20))
    torch.testing.assert_close(graphed.nets["gx"].out.weight, before, rtol=0, atol=0)
