"""`python -m training.stepbench`: what one training iteration costs, per model variant.

For the full-width config at --size (256: the MM 2020 model; 512: the plain in-painting network
and the coarse-to-fine one of TIP 2022, both): gaze steps per second (all four networks forward and
backward, both discriminators, one optimiser step each), peak memory, parameters and the
generator's multiply-accumulates per face. On the CPU and, when there is one, on a GPU: fp32, bf16
autocast, and bf16 with the whole step replayed as a CUDA graph (--cuda-graph).

Each CPU measurement runs in a process of its own, so that one variant's peak memory is not
another's. The eye boxes come from the config's geometry (training.geometry), as training's do.
"""
if __name__ == "__main__":  # before torch is imported: without it, one line naming the extra
    from training.clihelp import require_training_extra
    require_training_extra("stepbench")

import concurrent.futures
import multiprocessing
import resource
import sys
import time

import torch

from training.clihelp import helptext, new_parser
from training.config import TrainConfig
from training.geometry import EyeGeometry


def synthetic_batch(cfg: TrainConfig, device=None) -> dict:
    """Random faces with the eye boxes of the config's geometry."""
    boxes = torch.from_numpy(EyeGeometry.from_config(cfg).boxes())
    return {"image": torch.rand(cfg.batch, 3, cfg.size, cfg.size) * 2 - 1,
            "boxes": boxes.expand(cfg.batch, 2, 4).contiguous()}


def variant_config(size: int, variant: str, **kw) -> TrainConfig:
    """The full-width config of a variant: "plain" (the in-painting network at `size`) or "cfm"."""
    return TrainConfig(size=size, cfm=variant == "cfm", **kw)


def generator_cost(cfg: TrainConfig) -> dict:
    """G_x's parameters and multiply-accumulates for one face (convolutions and matrix products,
    as torch's FLOP counter sees them: resampling and norms not included), and all networks'
    parameters."""
    from torch.utils.flop_counter import FlopCounterMode

    from training.cfm import make_generator
    from training.networks import boxes_mask, count_parameters

    gx = make_generator(cfg, 0).eval()
    boxes = torch.from_numpy(EyeGeometry.from_config(cfg).boxes()).unsqueeze(0)
    image = torch.zeros(1, 3, cfg.size, cfg.size)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        gx(image, boxes_mask(boxes, cfg.size), torch.zeros(1, 2 * cfg.fc), boxes=boxes)
    return {"gx_params_m": count_parameters(gx) / 1e6, "gx_gmac": counter.get_total_flops() / 2 / 1e9}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def bench(device: str, iters: int, warmup: int, batch: int, amp: bool, compile_: bool = False,
          channels_last: bool = True, graph: bool = False, size: int = 256, variant: str = "plain") -> dict:
    import logging

    from training.networks import count_parameters
    from training.trainer import Trainer

    logging.getLogger("training.losses").setLevel(logging.ERROR)  # the VGG term's absence: not news here
    cfg = variant_config(size, variant, device=device, batch=batch, amp=amp, workers=0,
                         channels_last=channels_last, cuda_graph=graph)
    start_mb = _rss_mb() if device == "cpu" else 0.0
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
    # CPU: the process's peak resident memory above what it held before the networks were built.
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - start_mb)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    params = sum(count_parameters(trainer.nets[k]) for k in ("gx", "gy", "er", "dx", "dy")) / 1e6
    return {"variant": variant, "size": size, "device": name, "amp": amp and dev.type == "cuda",
            "compile": compile_, "batch": batch, "graph": trainer.graph_enabled,
            "channels_last": channels_last and dev.type == "cuda", "it_s": iters / dt, "ms_per_it": dt / iters * 1000,
            "peak_mb": peak, "train_params_m": params, "hours_200k": 200_000 / (iters / dt) / 3600,
            **generator_cost(cfg)}


def bench_isolated(**kw) -> dict:
    """bench() in a fresh process: its peak memory is its own."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(bench, **kw).result()


HEADER = (f"{'variant':>7} {'size':>4} {'device':>24} {'amp':>5} {'graph':>5} {'batch':>5} {'it/s':>8} {'ms/it':>8} "
          f"{'peak MB':>8} {'G_x M':>6} {'all M':>6} {'G_x GMAC':>8} {'200k h':>7}")


def format_row(r: dict) -> str:
    return (f"{r['variant']:>7} {r['size']:>4} {r['device']:>24} {str(r['amp']):>5} {str(r['graph']):>5} "
            f"{r['batch']:>5} {r['it_s']:>8.3f} {r['ms_per_it']:>8.0f} {r['peak_mb']:>8.0f} {r['gx_params_m']:>6.1f} "
            f"{r['train_params_m']:>6.1f} {r['gx_gmac']:>8.2f} {r['hours_200k']:>7.1f}")


def main(argv=None) -> int:
    p = new_parser("python -m training.stepbench", """\
Training cost of the full-width configuration at --size, per model variant: gaze steps per
second (all four networks forward and backward, both discriminators, one optimiser step each),
peak memory (GPU: allocated by torch; CPU: the process's resident memory above what it held
before building the networks), parameters (G_x, and all trained networks) and G_x's
multiply-accumulates per face (GMAC). At 256: the MM 2020 model ("plain"); at 512: the plain
in-painting network and the coarse-to-fine one of TIP 2022 ("cfm"). CPU and, when torch sees
one, a CUDA GPU (fp32, bf16 autocast, bf16 replayed as a CUDA graph).""", """\
python -m training.stepbench
python -m training.stepbench --size 512 --device cpu --batch 2
python -m training.stepbench --size 512 --device cuda --batch 16 --iters 50""")
    p.add_argument("--size", type=int, default=256, choices=(256, 512),
                   help=helptext("face size of the configuration: 256 (MM 2020) or 512 (plain and CFM)", 256))
    p.add_argument("--device", default="all", choices=("cpu", "cuda", "all"),
                   help=helptext("where to time: cpu, cuda or all (each one available)", "all"))
    p.add_argument("--batch", type=int, default=0, metavar="N",
                   help="faces per step and domain [default: 16; on the CPU at 512: 2]")
    p.add_argument("--iters", type=int, default=0, metavar="STEPS",
                   help="timed steps per configuration, after a warm-up [default: 3 on the CPU (2 at 512), 50 on a GPU]")
    p.add_argument("--variant", default="all", choices=("plain", "cfm", "all"),
                   help=helptext("which model at 512 (at 256 only plain exists)", "all"))
    p.add_argument("--compile", action="store_true", help="also time torch.compile on the GPU [default: off]")
    p.add_argument("--contiguous", action="store_true",
                   help="also time the GPU without channels_last [default: off]")
    args = p.parse_args(argv)
    if args.batch < 0 or args.iters < 0:
        print(f"stepbench: error: --batch {args.batch} --iters {args.iters}: expected a batch of at least 1 and "
              "0 or more steps", file=sys.stderr)
        return 2
    variants = ["plain"] if args.size == 256 else (["plain", "cfm"] if args.variant == "all" else [args.variant])
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    print(HEADER, flush=True)

    def row(dev, n, warmup, batch, **kw):
        """Time one configuration and print its line at once (a long GPU run keeps what it got)."""
        try:
            r = (bench_isolated if dev == "cpu" else bench)(device=dev, iters=n, warmup=warmup, batch=batch,
                                                            size=args.size, **kw)
        except Exception as exc:  # one configuration failing (e.g. a capture) should not hide the others
            print(f"{kw.get('variant')} {dev} {kw}: failed: {type(exc).__name__}: {exc}".splitlines()[0], flush=True)
            return
        print(format_row(r), flush=True)

    for dev in devices:
        if dev == "cuda" and not torch.cuda.is_available():
            print("cuda: skipped (no CUDA GPU visible to torch)")
            continue
        cpu = dev == "cpu"
        n = args.iters or ((2 if args.size == 512 else 3) if cpu else 50)
        batch = args.batch or (2 if cpu and args.size == 512 else 16)
        for variant in variants:
            if cpu:
                row(dev, n, 1, batch, amp=False, variant=variant)
                continue
            for channels_last in ([True, False] if args.contiguous else [True]):
                row(dev, n, 10, batch, amp=False, channels_last=channels_last, variant=variant)
                row(dev, n, 10, batch, amp=True, channels_last=channels_last, variant=variant)
                row(dev, n, 10, batch, amp=True, channels_last=channels_last, graph=True, variant=variant)
                if args.compile:
                    row(dev, n, 20, batch, amp=True, channels_last=channels_last, compile_=True, variant=variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
