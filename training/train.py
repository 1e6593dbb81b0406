"""`python -m training.train`: GazeGAN training from the command line (training.trainer does the
work; training.config holds every option and its default).

One GPU or the CPU as is; several GPUs with `torchrun --nproc_per_node N -m training.train ...`.
RUN_DIR/config.json holds the resolved config, RUN_DIR/last.pt the latest checkpoint (resumed
automatically). Every problem with the options, the data or a checkpoint is one line and exit 2,
found before anything is written.
"""
if __name__ == "__main__":  # before torch is imported: without it, one line naming the extra
    from training.clihelp import require_training_extra
    require_training_extra("train", ("torch", "tensorboard"))

import json
import logging
import os
import sys

from training.atomic import write_text
from training.config import TrainConfig, from_args, parser


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cfg = from_args(args)
    logging.basicConfig(level=logging.INFO, format="train: %(message)s")
    try:
        cfg.validate()
    except ValueError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(cfg.to_json())
        return 0
    from training.data import DatasetError
    from training.runlog import truncate
    from training.trainer import Trainer

    try:
        check_run_dir(cfg.run_dir)
        last = os.path.join(cfg.run_dir, "last.pt")
        resume = last if args.resume == "auto" and os.path.isfile(last) else (
            args.resume if args.resume not in ("auto", "no") else None)
        if resume:
            check_resumable(resume, cfg)  # before anything is built or written
        if cfg.pam_checkpoint and cfg.phase != "pam":
            check_pam_checkpoint(cfg)  # not after a whole PAM phase
        trainer = Trainer(cfg)
        trainer.datasets()  # fail fast on a bad dataset, before anything is written
        if resume:
            trainer.restore(resume)
        try:
            os.makedirs(cfg.run_dir, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"--run-dir {cfg.run_dir}: cannot create the folder ({exc.strerror})") from exc
        write_text(os.path.join(cfg.run_dir, "config.json"), cfg.to_json())
        if resume:
            truncate(cfg.run_dir, trainer.pam_step, trainer.step)
        trainer.run()
        trainer.close()
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write that failed (full disk, no permission): which file and why
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"train: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def check_run_dir(run_dir: str) -> None:
    """--run-dir must be a folder or not exist yet (it is created after every other check)."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"--run-dir {run_dir}: is a file; expected a folder (created when missing)")


def check_pam_checkpoint(cfg: TrainConfig) -> None:
    """--pam-checkpoint must hold a PAM with this run's eye-crop geometry and widths."""
    from training import checkpoint

    path = cfg.pam_checkpoint
    try:
        payload = checkpoint.load(path)
    except (ValueError, FileNotFoundError) as exc:
        raise ValueError(f"--pam-checkpoint {exc}") from exc
    spec = payload["networks"].get("pam")
    if spec is None or spec["kind"] != "pam":
        raise ValueError(f"--pam-checkpoint {path}: has no PAM (it holds {', '.join(payload['networks'])}); "
                         "expected a checkpoint of a run with phase pam or all")
    wanted = {"crop": cfg.crop, "base": cfg.base, "fc": cfg.fc}
    differ = [f"{k} {spec['args'].get(k)} (this run: {v})" for k, v in wanted.items() if spec["args"].get(k) != v]
    if differ:
        raise ValueError(f"--pam-checkpoint {path}: its PAM was trained with {', '.join(differ)}; "
                         "pass the same --crop, --base and --fc")


# Options a resumed run may change: where things are and how they are computed or logged. The
# rest (networks, data split, losses, schedule) define the run; changing them mid-run would
# either fail to load or silently train something else.
RESUMABLE = {"run_dir", "data", "workers", "device", "iters", "log_every", "image_every", "ckpt_every", "amp",
             "channels_last", "cuda_graph"}


def check_resumable(path: str, cfg: TrainConfig) -> None:
    """One-line ValueError when `path` cannot be resumed with `cfg`: unreadable, or saved with a
    config that differs in fields that define the run (named, with how to start anew)."""
    from training import checkpoint

    fresh = "start a new run with --resume no (replaces it) or another --run-dir"
    try:
        payload = checkpoint.load(path)
    except (ValueError, FileNotFoundError) as exc:
        raise ValueError(f"{exc}; to {fresh}") from exc
    saved = payload.get("config") or {}
    wanted = json.loads(cfg.to_json())
    differ = [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in wanted.items()
              if k not in RESUMABLE and k in saved and saved[k] != v]
    if differ:
        raise ValueError(f"{path}: was trained with another config ({'; '.join(differ)}); resume it with the "
                         f"same options, or {fresh}")


def exit_process(code: int) -> None:
    """Exit; under torchrun without C++ static destructors. After the process group is gone,
    gloo's threads can still be joinable when they run, and the rank then aborts ("terminate
    called without an active exception", SIGABRT) although its work is done and saved; CI saw
    it about once in a few runs. Everything is flushed and closed before."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_process(main())
