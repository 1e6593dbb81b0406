"""`python -m training.stepbench`: training iterations per second and peak memory for the full 256
config (all four networks forward + backward, both discriminators, one optimiser step each), on
the CPU and, when there is one, on a GPU: fp32, bf16 autocast, and bf16 with the whole step replayed
as a CUDA graph (--cuda-graph), with channels_last (and without, with --contiguous).

Goal: 200k iterations in at most 3 h on one H100, i.e. >= 18.5 it/s at batch 16.
"""
if __name__ == "__main__":  # before torch is imported: without it, one line naming the extra
    from training.clihelp import require_training_extra
    require_training_extra("stepbench")

import resource
import sys
import time

import torch

from training.clihelp import helptext, new_parser
from training.config import TrainConfig
from training.trainer import Trainer


def synthetic_batch(cfg: TrainConfig, device) -> dict:
    b, s = cfg.batch, cfg.size
    cx = torch.tensor([0.344 * s, 0.656 * s])
    boxes = torch.stack([torch.stack([cx[i] - cfg.box_w / 2, torch.tensor(0.47 * s - cfg.box_h / 2),
                                      cx[i] + cfg.box_w / 2, torch.tensor(0.47 * s + cfg.box_h / 2)])
                         for i in range(2)]).round().long()
    return {"image": torch.rand(b, 3, s, s) * 2 - 1, "boxes": boxes.expand(b, 2, 4).contiguous()}


def bench(device: str, iters: int, warmup: int, batch: int, amp: bool, compile_: bool = False,
          channels_last: bool = True, graph: bool = False) -> dict:
    cfg = TrainConfig(device=device, batch=batch, amp=amp, workers=0, channels_last=channels_last,
                      cuda_graph=graph)
    trainer = Trainer(cfg)
    if compile_:
        for k in ("gx", "gy", "er", "dx", "dy"):
            trainer.train_nets[k] = torch.compile(trainer.nets[k])
    dev = trainer.device
    xb = trainer.to_device(synthetic_batch(cfg, dev))
    yb = trainer.to_device(synthetic_batch(cfg, dev))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        trainer.gaze_update(xb, yb)
    sync()
    t0 = time.perf_counter()
    for _ in range(iters):
        trainer.gaze_update(xb, yb)
    sync()
    dt = time.perf_counter() - t0
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    return {"device": name, "amp": amp and dev.type == "cuda", "compile": compile_, "batch": batch,
            "graph": trainer.graph_enabled,
            "channels_last": channels_last and dev.type == "cuda",
            "it_s": iters / dt, "ms_per_it": dt / iters * 1000, "peak_mb": peak,
            "hours_200k": 200_000 / (iters / dt) / 3600}


def main(argv=None) -> int:
    p = new_parser("python -m training.stepbench", """\
Training speed of the full 256x256 configuration: gaze steps per second (all four networks
forward and backward, both discriminators, one optimiser step each) and peak memory, on the
CPU and on a CUDA GPU when torch sees one (fp32, bf16 autocast, bf16 replayed as a CUDA graph).
Goal: 200k steps in at most 3 h on one H100, i.e. at least 18.5 steps/s at batch 16.""", """\
python -m training.stepbench
python -m training.stepbench --device cuda --batch 16 --iters 100 --compile""")
    p.add_argument("--device", default="all", choices=("cpu", "cuda", "all"),
                   help=helptext("where to time: cpu, cuda or all (each one available)", "all"))
    p.add_argument("--batch", type=int, default=16, metavar="N", help=helptext("faces per step and domain", 16))
    p.add_argument("--iters", type=int, default=0, metavar="STEPS",
                   help="timed steps per configuration, after a warm-up [default: 3 on the CPU, 50 on a GPU]")
    p.add_argument("--compile", action="store_true", help="also time torch.compile on the GPU [default: off]")
    p.add_argument("--contiguous", action="store_true",
                   help="also time the GPU without channels_last [default: off]")
    args = p.parse_args(argv)
    if args.batch < 1 or args.iters < 0:
        print(f"stepbench: error: --batch {args.batch} --iters {args.iters}: expected a batch of at least 1 and "
              "0 or more steps", file=sys.stderr)
        return 2
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    print(f"{'device':>24} {'amp':>5} {'compile':>7} {'graph':>5} {'ch_last':>7} {'batch':>5} {'it/s':>8} "
          f"{'ms/it':>8} {'peak MB':>8} {'200k h':>7}", flush=True)

    def row(dev, n, warmup, **kw):
        """Time one configuration and print its line at once (a long GPU run keeps what it got)."""
        try:
            r = bench(dev, n, warmup, args.batch, **kw)
        except Exception as exc:  # one configuration failing (e.g. a capture) should not hide the others
            print(f"{dev:>24} {kw}: failed: {type(exc).__name__}: {exc}".splitlines()[0], flush=True)
            return
        print(f"{r['device']:>24} {str(r['amp']):>5} {str(r['compile']):>7} {str(r['graph']):>5} "
              f"{str(r['channels_last']):>7} {r['batch']:>5} {r['it_s']:>8.2f} "
              f"{r['ms_per_it']:>8.1f} {r['peak_mb']:>8.0f} {r['hours_200k']:>7.1f}", flush=True)

    for dev in devices:
        if dev == "cuda" and not torch.cuda.is_available():
            print("cuda: skipped (no CUDA GPU visible to torch)")
            continue
        n = args.iters or (3 if dev == "cpu" else 50)
        if dev == "cpu":
            row(dev, n, 1, amp=False)
            continue
        layouts = [True, False] if args.contiguous else [True]
        for channels_last in layouts:
            row(dev, n, 10, amp=False, channels_last=channels_last)
            row(dev, n, 10, amp=True, channels_last=channels_last)
            row(dev, n, 10, amp=True, channels_last=channels_last, graph=True)
            if args.compile:
                row(dev, n, 20, amp=True, channels_last=channels_last, compile_=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
