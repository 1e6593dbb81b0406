"""The training set's writers and durability: every image an index lists is on disk before the
index is, and a full disk is one line with nothing listed that was lost."""
import os

import cv2

from training import syntheticset


def test_every_listed_image_is_synced_before_its_index_is_renamed(tmp_path, monkeypatch):
    synced, renamed = set(), []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        synced.add((info.st_dev, info.st_ino))
        return real_fsync(fd)

    def replace(src, dst):
        info = os.stat(src)
        renamed.append((os.path.basename(dst), (info.st_dev, info.st_ino) in synced, frozenset(synced)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    syntheticset.write_dataset(str(tmp_path), per_domain=3, size=64)
    for domain in ("0", "1"):
        index = [r for r in renamed if r[0] == f"{domain}.txt"]
        assert len(index) == 1 and index[0][1]  # the index itself was synced before its rename
        synced_then = index[0][2]
        names = [line.split()[0] for line in (tmp_path / f"{domain}.txt").read_text().splitlines()]
        assert len(names) == 3
        for name in names:
            image = tmp_path / domain / name
            info = os.stat(image)
            assert (info.st_dev, info.st_ino) in synced_then, f"{image} was not synced before {domain}.txt"
            assert cv2.imread(str(image)).shape == (64, 64, 3)


def test_a_full_disk_is_one_line_and_no_index(small_filesystem, capsys):
    code = syntheticset.main([str(small_filesystem / "set"), "--per-domain", "200", "--size", "256"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("syntheticset: error: ") and "No space left" in err[0], err
    assert not (small_filesystem / "set" / "0.txt").exists()
    assert not (small_filesystem / "set" / "1.txt").exists()
