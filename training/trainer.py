"""The GazeGAN trainer: phase `pam` (mirror learning on eye crops), then phase `gaze` (D_x, D_y,
G_x, G_y + E_r jointly, with Synthesis-As-Training and l_fp). Its command line is training.train.

One GPU or the CPU as is; several GPUs under torchrun (DistributedDataParallel).
Logs: tqdm, TensorBoard (RUN_DIR/tb), RUN_DIR/losses.jsonl; RUN_DIR/last.pt is the latest checkpoint.
"""
from __future__ import annotations

import json
import logging
import os
from contextlib import nullcontext

import torch
import torch.distributed as dist
from tqdm import tqdm

from training import checkpoint, losses
from training.config import TrainConfig
from training.data import GazeDataset, loader, read_labels, split
from training.networks import AngleEncoder, Discriminator, PAMAutoencoder, boxes_mask, crop_eyes
from training.runlog import RunLog
from training.cfm import make_generator

log = logging.getLogger("training")


def pick_device(spec: str, local_rank: int = 0, world: int = 1) -> torch.device:
    """The device `--device` names (auto: a CUDA GPU when torch sees one), or a one-line
    ValueError when it is not there: never the CPU in place of a GPU that was asked for."""
    if spec == "cpu" or (spec == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        build = "this torch is a CPU-only build" if torch.version.cuda is None else "no CUDA GPU is visible to torch"
        raise ValueError(f"--device {spec}: {build}; train with --device cpu (or auto)")
    if spec in ("auto", "cuda"):
        index = local_rank  # under torchrun each process takes its own GPU
    elif world > 1:
        raise ValueError(f"--device {spec}: under torchrun each process takes GPU LOCAL_RANK; pass --device cuda "
                         "and choose the GPUs with CUDA_VISIBLE_DEVICES")
    else:
        index = int(spec.split(":")[1])
    count = torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"--device {spec}: torch sees {count} CUDA GPU{'s' if count > 1 else ''} "
                         f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})")
    return torch.device("cuda", index)


def allow_tf32() -> None:
    """TF32 for the fp32 matrix products and convolutions, by the settings of this torch: torch 2.9
    and later warn (a UserWarning on the terminal) when the older allow_tf32 flags are set."""
    matmul, conv = torch.backends.cuda.matmul, getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        matmul.fp32_precision = "tf32"
        conv.fp32_precision = "tf32"
    else:
        matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


class Trainer:
    """Holds the six networks, their optimisers and the step counters."""

    def __init__(self, cfg: TrainConfig):
        cfg.validate()
        self.cfg = cfg
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", "0")), self.world)
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
            # Fixed input shapes: let cuDNN pick the fastest kernels; TF32 for the fp32 parts.
            torch.backends.cudnn.benchmark = True
            allow_tf32()
        # torch's generators are the only global ones a step draws from (weight init, dropout);
        # the data order has its own per-step generator (training.data), so a resumed run needs
        # exactly these states back (Trainer.state / restore).
        torch.manual_seed(cfg.seed)
        self.cuda = self.device.type == "cuda"
        self.memory_format = torch.channels_last if (self.cuda and cfg.channels_last) else torch.contiguous_format
        self.nets = {
            "pam": PAMAutoencoder(cfg.crop, cfg.base, cfg.fc),
            "gx": make_generator(cfg, code=0),
            "gy": make_generator(cfg, code=2),
            "er": AngleEncoder(cfg.crop, cfg.er_base),
            "dx": Discriminator(cfg.size, cfg.crop, cfg.d_base),
            "dy": Discriminator(cfg.size, cfg.crop, cfg.d_base),
        }
        for net in self.nets.values():
            net.to(self.device, memory_format=self.memory_format)
        betas = (cfg.beta1, cfg.beta2)
        adam = lambda params, lr: torch.optim.Adam(params, lr=lr, betas=betas)  # noqa: E731
        self.opt = {
            "pam": adam(self.nets["pam"].parameters(), cfg.pam_lr),
            "gx": adam(self.nets["gx"].parameters(), cfg.lr),
            "gy": adam(list(self.nets["gy"].parameters()) + list(self.nets["er"].parameters()), cfg.lr),
            "dx": adam(self.nets["dx"].parameters(), cfg.lr),
            "dy": adam(self.nets["dy"].parameters(), cfg.lr),
        }
        self.graphed = None  # the captured gaze step (training.graphed), made on the first step
        if cfg.cuda_graph and not self.graph_enabled:
            log.warning("--cuda-graph ignored: it needs one CUDA GPU and a single process (no torchrun)")
        self.settle_optimizers()
        self.pam_step = 0
        self.step = 0
        self.box_area = cfg.box_h * cfg.box_w
        self.vgg = losses.load_vgg_loss(cfg.vgg_weights or None)
        if self.vgg is not None:
            self.vgg.to(self.device)
        self.train_nets = dict(self.nets)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.device.index] if self.cuda else None
            self.train_nets = {k: DDP(v, device_ids=ids) for k, v in self.nets.items()}
        self.runlog = None  # RUN_DIR's loss log and TensorBoard, on rank 0, while run() runs

    def close(self) -> None:
        """Under torchrun: leave the process group together. A rank that exits while another still
        talks to it can take that one down (gloo aborts on a closed connection)."""
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    # --- bookkeeping -------------------------------------------------------------------------
    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def graph_enabled(self) -> bool:
        """--cuda-graph on one CUDA GPU (not under torchrun: DDP's hooks need more care)."""
        return self.cfg.cuda_graph and self.cuda and self.world == 1

    def autocast(self):
        if self.cuda and self.cfg.amp:
            # No weight-cast cache: each weight is cast once per step anyway (one call per network),
            # and a CUDA graph must not keep casts from its capture.
            return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
        return nullcontext()

    def lr_factor(self, step: int, total: int, decay_start: int) -> float:
        if step < decay_start:
            return 1.0
        return max(0.0, (total - step) / max(total - decay_start, 1))

    def set_lr(self, names, base_lr, step, total, decay_start):
        factor = self.lr_factor(step, total, decay_start)
        for name in names:
            for group in self.opt[name].param_groups:
                if torch.is_tensor(group["lr"]):
                    group["lr"].fill_(base_lr * factor)  # in place: a CUDA graph reads it there
                else:
                    group["lr"] = base_lr * factor

    def settle_optimizers(self) -> None:
        """This run's optimiser settings, also over whatever a loaded checkpoint said.

        Fused Adam: one kernel per parameter group instead of ~7 per tensor (the GPU step is
        launch-bound; the CPU gains a little too). A CUDA graph also needs `capturable` and the
        learning rate as a device tensor, which the schedule then updates in place.
        """
        graph = self.graph_enabled
        for opt in self.opt.values():
            for group in opt.param_groups:
                group.update(fused=True, foreach=None, capturable=graph)
                lr = float(group["lr"])
                group["lr"] = torch.tensor(lr, device=self.device) if graph else lr
                for p in group["params"]:
                    state = opt.state.get(p, {})
                    if "step" in state:  # fused Adam keeps the step count beside the parameter
                        state["step"] = state["step"].to(p.device, torch.float32)

    def state(self) -> dict:
        return {"pam_step": self.pam_step, "step": self.step, "config": json.loads(self.cfg.to_json()),
                "rng": self.rng_state()}

    def rng_state(self) -> dict:
        """The generators a step draws from: torch's CPU one and, on a GPU, this device's."""
        state = {"torch": torch.get_rng_state()}
        if self.cuda:
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def set_rng_state(self, state: dict) -> None:
        torch.set_rng_state(state["torch"].cpu())  # the checkpoint may have been mapped to the GPU
        if self.cuda and "cuda" in state:
            torch.cuda.set_rng_state(state["cuda"].cpu(), self.device)

    def save(self, path: str) -> None:
        if self.main:
            checkpoint.save(path, self.nets, self.opt, **self.state())

    def restore(self, path: str) -> None:
        payload = checkpoint.load(path, map_location=self.device)
        for name, net in self.nets.items():
            net.load_state_dict(payload["state"][name])
        for name, opt in self.opt.items():
            if name in payload["optim"]:
                opt.load_state_dict(payload["optim"][name])
        self.settle_optimizers()
        self.graphed = None  # its recorded tensors are the ones the load replaced
        self.pam_step, self.step = int(payload["pam_step"]), int(payload["step"])
        self.set_rng_state(payload["rng"])
        log.info("resumed from %s at pam step %d, gaze step %d", path, self.pam_step, self.step)

    def load_pam(self, path: str) -> None:
        """E_c (with the whole PAM) from another run's checkpoint; the PAM phase counts as done."""
        payload = checkpoint.load(path, map_location=self.device)
        self.nets["pam"].load_state_dict(payload["state"]["pam"])
        self.pam_step = max(self.pam_step, self.cfg.pam_iters)

    def to_device(self, batch: dict) -> dict:
        out = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        out["image"] = out["image"].contiguous(memory_format=self.memory_format)
        return out

    # --- one optimisation step of each phase -------------------------------------------------
    def pam_update(self, batch: dict) -> dict:
        """l_pre on both eyes of a batch (section 3.3)."""
        pam = self.train_nets["pam"]
        crops = crop_eyes(batch["image"], batch["boxes"], self.cfg.crop)
        with self.autocast():
            loss = losses.mirror_loss(pam, crops[:, 0], crops[:, 1])
        self.opt["pam"].zero_grad(set_to_none=True)
        loss.backward()
        self.opt["pam"].step()
        return {"pam/l_pre": loss.item()}

    def content_codes(self, crops: torch.Tensor) -> torch.Tensor:
        """E_c (frozen after PAM) on (B, 2, 3, c, c) eye crops -> (B, 2 * fc), both eyes per row."""
        with torch.no_grad():
            return self.nets["pam"].encoder(crops.flatten(0, 1)).view(crops.shape[0], -1)

    def gaze_forward(self, xb: dict, yb: dict) -> dict:
        """All generator outputs of one step (eqs. 1, 3, 5).

        Each network runs once on everything it sees at that point (G_x on x and y together, G_y on
        y and G_x(y) together): the same values as separate calls, since no layer mixes samples
        (instance norm only), in half the kernel launches and with larger, more efficient kernels.
        """
        n, cfg = self.train_nets, self.cfg
        x, bx, y, by = xb["image"], xb["boxes"], yb["image"], yb["boxes"]
        b = x.shape[0]
        mx, my = boxes_mask(bx, cfg.size), boxes_mask(by, cfg.size)
        x_crops, y_crops = crop_eyes(x, bx, cfg.crop), crop_eyes(y, by, cfg.crop)
        c_x, c_y = self.content_codes(torch.cat([x_crops, y_crops])).split(b)
        x_t, yx_t = n["gx"](torch.cat([x, y]), torch.cat([mx, my]), torch.cat([c_x, c_y]),
                            boxes=torch.cat([bx, by])).split(b)
        yx_in = yx_t.detach()
        yx_crops = crop_eyes(yx_in, by, cfg.crop)
        c_yx = self.content_codes(yx_crops)
        r_y, r_yx = n["er"](torch.cat([y_crops, yx_crops])).split(b)
        y_t, y_hat = n["gy"](torch.cat([y, yx_in]), torch.cat([my, my]), torch.cat([c_y, c_yx]),
                             torch.cat([r_y, r_yx]), boxes=torch.cat([by, by])).split(b)
        return dict(x=x, y=y, bx=bx, by=by, mx=mx, my=my, x_crops=x_crops, y_crops=y_crops, x_t=x_t,
                    yx_t=yx_t, y_t=y_t, y_hat=y_hat, r_y=r_y, r_yx=r_yx,
                    x_t_crops=crop_eyes(x_t, bx, cfg.crop), y_t_crops=crop_eyes(y_t, by, cfg.crop),
                    y_hat_crops=crop_eyes(y_hat, by, cfg.crop))

    @property
    def loss_names(self) -> list[str]:
        names = ["d/x", "d/y", "gx/adv", "gx/recon", "gy/adv", "gy/adv_x", "gy/recon", "gy/sat", "gy/fp"]
        return names + (["gx/vgg", "gy/vgg"] if self.vgg is not None else [])

    def gaze_update(self, xb: dict, yb: dict) -> dict:
        """One gaze step (eagerly, or by replaying its CUDA graph); returns the loss values."""
        if self.graph_enabled:
            if self.graphed is None:
                from training.graphed import GraphedStep
                self.graphed = GraphedStep(self, xb, yb)
            values = self.graphed(xb, yb)
        else:
            values = self.gaze_step(xb, yb)
        return dict(zip(self.loss_names, values.cpu().tolist()))  # one device sync per step

    def gaze_step(self, xb: dict, yb: dict) -> torch.Tensor:
        """D_x, D_y, then G_x and G_y + E_r (official order), eqs. 7-11; returns the loss terms
        stacked in `loss_names` order. Device work only, no host reads: a CUDA graph can hold it."""
        n, cfg = self.train_nets, self.cfg
        b = xb["image"].shape[0]
        with self.autocast():
            o = self.gaze_forward(xb, yb)
            # Discriminators: D_x sees x (real), G_x(x) and G_y(G_x(y)) (fake) in one batch.
            for d in ("dx", "dy"):
                self.nets[d].requires_grad_(True)
            real_x, fake_xt, fake_yhat = n["dx"](
                torch.cat([o["x"], o["x_t"].detach(), o["y_hat"].detach()]),
                torch.cat([o["x_crops"], o["x_t_crops"].detach(), o["y_hat_crops"].detach()])).split(b)
            l_dx = losses.d_adversarial(real_x, fake_xt, fake_yhat)
            real_y, fake_yt = n["dy"](torch.cat([o["y"], o["y_t"].detach()]),
                                      torch.cat([o["y_crops"], o["y_t_crops"].detach()])).split(b)
            l_dy = losses.d_adversarial(real_y, fake_yt)
        for k in ("dx", "dy"):
            self.opt[k].zero_grad(set_to_none=True)
        (l_dx + l_dy).backward()
        self.opt["dx"].step()
        self.opt["dy"].step()
        with self.autocast():
            for d in ("dx", "dy"):
                self.nets[d].requires_grad_(False)
            d_xt, d_yhat = n["dx"](torch.cat([o["x_t"], o["y_hat"]]),
                                   torch.cat([o["x_t_crops"], o["y_hat_crops"]])).split(b)
            adv_x = losses.g_adversarial(d_xt)
            rec_x = losses.recon_x(o["x_t"], o["x"], o["mx"], self.box_area)
            l_gx = adv_x + cfg.lambda_recon_x * rec_x
            adv_y = losses.g_adversarial(n["dy"](o["y_t"], o["y_t_crops"]))
            adv_yx = losses.g_adversarial(d_yhat)
            rec_y = losses.recon_y(o["y_t"], o["y"], o["my"], self.box_area)
            sat = losses.synthesis_as_training(o["y_hat"], o["yx_t"], o["my"], self.box_area)
            r_of_yt, r_of_yhat = n["er"](torch.cat([o["y_t_crops"], o["y_hat_crops"]])).split(b)
            fp = losses.latent_reconstruction(o["r_y"], r_of_yt, o["r_yx"], r_of_yhat)
            l_gy = (adv_y + cfg.lambda_adv_x_on_y * adv_yx + cfg.lambda_recon_y * rec_y
                    + cfg.lambda_sat * sat + cfg.lambda_fp * fp)
            terms = [l_dx, l_dy, adv_x, rec_x, adv_y, adv_yx, rec_y, sat, fp]
            if self.vgg is not None:
                v_x = self.vgg(o["x_t_crops"], o["x_crops"])
                v_y = self.vgg(o["y_t_crops"], o["y_crops"])
                l_gx = l_gx + cfg.lambda_vgg * v_x
                l_gy = l_gy + cfg.lambda_vgg * v_y
                terms += [v_x, v_y]
        for k in ("gx", "gy"):
            self.opt[k].zero_grad(set_to_none=True)
        (l_gx + l_gy).backward()
        self.opt["gx"].step()
        self.opt["gy"].step()
        self._last = o
        return torch.stack([t.detach().float() for t in terms])

    # --- loops -------------------------------------------------------------------------------
    def datasets(self):
        cfg = self.cfg
        ys, xs = read_labels(cfg.data, 0), read_labels(cfg.data, 1)
        (y_train, _), (x_train, _) = split(ys, cfg.test_y), split(xs, cfg.test_x)
        make = lambda recs: GazeDataset(recs, cfg.size, cfg.box_h, cfg.box_w)  # noqa: E731
        return make(x_train), make(y_train)

    def _loader(self, ds, start, stop, salt):
        return loader(ds, self.cfg.batch, self.cfg.seed * 1000 + salt, start, stop, self.cfg.workers,
                      self.cfg.flip, self.rank, self.world)

    def log_losses(self, phase: str, step: int, values: dict) -> None:
        if self.runlog is not None:
            self.runlog.losses(phase, step, values)

    def run(self) -> None:
        cfg = self.cfg
        x_ds, y_ds = self.datasets()
        if self.main:
            self.runlog = RunLog(cfg.run_dir, cfg.log_every)
        last = os.path.join(cfg.run_dir, "last.pt")
        if cfg.pam_checkpoint and cfg.phase in ("gaze", "all"):
            self.load_pam(cfg.pam_checkpoint)  # in place of the PAM phase
        if cfg.phase in ("pam", "all") and self.pam_step < cfg.pam_iters:
            self.train_pam(y_ds, x_ds, last)
        if cfg.phase in ("gaze", "all"):
            if self.pam_step == 0 and not cfg.pam_checkpoint:
                log.warning("E_c is untrained: run phase pam first or pass --pam-checkpoint")
            self.train_gaze(x_ds, y_ds, last)
        if self.runlog is not None:
            self.runlog.close()

    def train_pam(self, y_ds, x_ds, last: str) -> None:
        cfg = self.cfg
        both = GazeDataset(y_ds.records + x_ds.records, cfg.size, cfg.box_h, cfg.box_w)
        bar = tqdm(total=cfg.pam_iters, initial=self.pam_step, desc="pam", disable=not self.main)
        for batch in self._loader(both, self.pam_step, cfg.pam_iters, 1):
            self.set_lr(["pam"], cfg.pam_lr, self.pam_step, cfg.pam_iters, cfg.pam_iters // 10)
            values = self.pam_update(self.to_device(batch))
            self.pam_step += 1
            self.log_losses("pam", self.pam_step, values)
            bar.update(1)
            bar.set_postfix(l_pre=f"{values['pam/l_pre']:.3f}")
            if self.pam_step % cfg.ckpt_every == 0 or self.pam_step == cfg.pam_iters:
                self.save(last)
        bar.close()

    def train_gaze(self, x_ds, y_ds, last: str) -> None:
        cfg = self.cfg
        bar = tqdm(total=cfg.iters, initial=self.step, desc="gaze", disable=not self.main)
        batches = zip(self._loader(x_ds, self.step, cfg.iters, 2), self._loader(y_ds, self.step, cfg.iters, 3))
        for xb, yb in batches:
            self.set_lr(["gx", "gy", "dx", "dy"], cfg.lr, self.step, cfg.iters, cfg.decay_start)
            values = self.gaze_update(self.to_device(xb), self.to_device(yb))
            self.step += 1
            self.log_losses("gaze", self.step, values)
            bar.update(1)
            bar.set_postfix(rec_x=f"{values['gx/recon']:.3f}", rec_y=f"{values['gy/recon']:.3f}")
            if self.runlog is not None and self.step % cfg.image_every == 0:
                self.runlog.samples(self.nets, self._last, cfg.crop, self.step)
            if self.step % cfg.ckpt_every == 0 or self.step == cfg.iters:
                self.save(last)
        bar.close()
