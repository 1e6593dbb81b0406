"""The CelebAGaze layout and its loader.

DATA/0/<name>.jpg + DATA/0.txt: domain Y (looking elsewhere); DATA/1/... + 1.txt: domain X
(looking at the camera). Each txt line: `name xL yL xR yR`, eye centres in image pixels, L = the eye
on the image's left. Test split as upstream: the last 300 lines of 0.txt and the last 100 of 1.txt
(fewer for small sets: at most a fifth of each file).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from training.geometry import eye_boxes


class DatasetError(ValueError):
    """A missing or malformed dataset; the message names the file and line."""


@dataclass(frozen=True)
class Record:
    path: str
    eyes: tuple[tuple[float, float], tuple[float, float]]


def read_labels(root: str, domain: int) -> list[Record]:
    """Parse DATA/<domain>.txt; every error names the file and line."""
    txt = os.path.join(root, f"{domain}.txt")
    if not os.path.isdir(root):
        raise DatasetError(f"{root}: dataset folder does not exist (expected 0/, 1/, 0.txt, 1.txt)")
    if not os.path.isfile(txt):
        raise DatasetError(f"{txt}: missing (expected lines 'name xL yL xR yR')")
    records = []
    with open(txt) as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 5:
                raise DatasetError(f"{txt} line {lineno}: expected 'name xL yL xR yR', got {line.strip()!r}")
            try:
                xl, yl, xr, yr = (float(v) for v in parts[1:])
            except ValueError:
                raise DatasetError(f"{txt} line {lineno}: eye coordinates must be numbers, got {line.strip()!r}")
            name = parts[0]
            path = os.path.join(root, str(domain), name)
            if not os.path.splitext(name)[1]:
                path += ".jpg"
            if not os.path.isfile(path):
                raise DatasetError(f"{txt} line {lineno}: image {path} does not exist")
            records.append(Record(path, ((xl, yl), (xr, yr))))
    if not records:
        raise DatasetError(f"{txt}: no entries")
    return records


def split(records: list[Record], test_count: int) -> tuple[list[Record], list[Record]]:
    """Upstream split: the last `test_count` lines are the test set (at most a fifth of them)."""
    n_test = min(test_count, len(records) // 5)
    return records[: len(records) - n_test], records[len(records) - n_test:]


class GazeDataset(torch.utils.data.Dataset):
    """One domain of CelebAGaze. Items are indexed by (index, flip) so that augmentation is decided
    by the sampler, which makes a resumed run draw exactly the same batches."""

    def __init__(self, records: list[Record], size: int = 256, box_h: int = 40, box_w: int = 60):
        self.records = records
        self.size, self.box_h, self.box_w = size, box_h, box_w

    def __len__(self) -> int:
        return len(self.records)

    def load(self, index: int, flip: bool = False) -> dict:
        rec = self.records[index]
        image = cv2.imread(rec.path)
        if image is None:
            raise DatasetError(f"{rec.path}: not a readable image")
        scale = 1.0
        if image.shape[:2] != (self.size, self.size):
            scale = self.size / image.shape[1]
            image = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        eyes = np.array(rec.eyes, np.float32) * scale
        if flip:
            # Mirror the image and the x coordinates, and swap the eyes so L stays on the left
            # (the official code forgets the swap).
            image = image[:, ::-1]
            eyes = eyes[::-1].copy()
            eyes[:, 0] = self.size - 1 - eyes[:, 0]
        rgb = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2RGB)
        tensor = torch.from_numpy(rgb).permute(2, 0, 1).float() / 127.5 - 1.0
        return {"image": tensor, "eyes": torch.from_numpy(eyes),
                "boxes": torch.from_numpy(eye_boxes(eyes, self.box_h, self.box_w, self.size))}

    def __getitem__(self, key) -> dict:
        index, flip = key if isinstance(key, tuple) else (key, False)
        return self.load(index, flip)


class StepSampler(torch.utils.data.Sampler):
    """Batches of (index, flip) drawn from a generator seeded by (seed, step): batch k is the
    same whether the run started at step 0 or resumed at step k."""

    def __init__(self, n: int, batch: int, seed: int, start: int, stop: int, flip: bool = True,
                 rank: int = 0, world: int = 1):
        self.n, self.batch, self.seed, self.start, self.stop = n, batch, seed, start, stop
        self.flip, self.rank, self.world = flip, rank, world

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)

    def __iter__(self):
        for step in range(self.start, self.stop):
            g = np.random.default_rng([self.seed, step, self.rank])
            idx = g.integers(0, self.n, self.batch)
            flips = g.random(self.batch) < 0.5 if self.flip else np.zeros(self.batch, bool)
            yield [(int(i), bool(f)) for i, f in zip(idx, flips)]


def loader(dataset: GazeDataset, batch: int, seed: int, start: int, stop: int, workers: int = 0,
           flip: bool = True, rank: int = 0, world: int = 1) -> torch.utils.data.DataLoader:
    sampler = StepSampler(len(dataset), batch, seed, start, stop, flip, rank, world)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=workers,
                                       pin_memory=torch.cuda.is_available(), persistent_workers=False)
