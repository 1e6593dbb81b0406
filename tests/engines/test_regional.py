"""The regional generator: G_x / G_y computed around the eye boxes only, same numbers."""
import pytest
import torch

from engines.regional import RegionalGenerator, mask_region, subpixel_weight
from training.networks import InpaintGenerator, boxes_mask

MASKS = {  # size -> eye boxes: the live layout, and boxes touching every border
    "live": (64, [[9, 25, 25, 35], [35, 25, 51, 35]]),
    "borders": (64, [[0, 0, 16, 10], [48, 54, 64, 64]]),
    "odd": (96, [[3, 7, 27, 22], [61, 40, 85, 55]]),
}


@pytest.mark.parametrize("layout", MASKS)
@pytest.mark.parametrize("code", [0, 2])
def test_regional_equals_full(layout, code):
    torch.manual_seed(0)
    size, boxes = MASKS[layout]
    g = InpaintGenerator(size=size, base=8, fc=32, content=16, code=code).eval()
    mask = boxes_mask(torch.tensor([boxes]), size)
    x, c = torch.rand(1, 3, size, size) * 2 - 1, torch.randn(1, 32)
    r = torch.randn(1, 2) if code else None
    with torch.no_grad():
        full = g(x, mask, c) if r is None else g(x, mask, c, r)
        for subpixel in (False, True):
            out = RegionalGenerator(g, mask, 1, subpixel)(x, c, r)
            assert (out - full).abs().max() < 1e-4, (layout, code, subpixel)  # float rounding only
        # Sparse instance-norm statistics: close, not equal, and only inside the boxes.
        approx = RegionalGenerator(g, mask, 2)(x, c, r)
    diff = (approx - full).abs()
    assert 0 < diff.max() < 0.5
    assert diff[mask.expand_as(diff) == 0].max() == 0


def test_subpixel_weight_is_the_transposed_convolution():
    torch.manual_seed(1)
    convt = torch.nn.ConvTranspose2d(5, 3, 4, 2, 1)
    x = torch.randn(1, 5, 7, 9)
    with torch.no_grad():
        ref = convt(x)
        out = torch.nn.functional.pixel_shuffle(
            torch.nn.functional.conv2d(x, subpixel_weight(convt.weight), convt.bias.repeat_interleave(4), padding=1), 2)
    assert out.shape == ref.shape and (out - ref).abs().max() < 1e-5


def test_mask_region_and_bad_masks():
    mask = boxes_mask(torch.tensor([[[3, 7, 27, 22], [61, 40, 85, 55]]]), 96)
    assert mask_region(mask) == (7, 55, 3, 85)
    with pytest.raises(ValueError, match="empty"):
        mask_region(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="mask is 8 px"):
        RegionalGenerator(InpaintGenerator(size=64, base=8, fc=32, content=16), torch.ones(1, 1, 8, 8))


def test_untrained_animation_graph_exports_for_the_cpu(tmp_path):
    """Fresh G_x and G_y share equal weights (norm scales of 1), which the ONNX exporter
    deduplicates; ONNX Runtime must still load and run the regional graph."""
    import dataclasses

    import numpy as np
    import onnxruntime as ort

    from engines.export import example_inputs, load_graphs, _to_onnx
    from training import checkpoint
    from training.config import TrainConfig
    from training.networks import AngleEncoder, PAMAutoencoder

    cfg = TrainConfig(size=64, box_h=10, box_w=16, crop=16)
    nets = {"pam": PAMAutoencoder(16, 8, 16), "gx": InpaintGenerator(64, 8, 32, 16),
            "gy": InpaintGenerator(64, 8, 32, 16, code=2), "er": AngleEncoder(16, 8)}
    checkpoint.save(str(tmp_path / "fresh.pt"), nets, config=dataclasses.asdict(cfg), step=0, pam_step=0)
    graphs, meta = load_graphs(str(tmp_path / "fresh.pt"), "cpu")
    assert meta["regional"]
    path = str(tmp_path / "animate_cpu.onnx")
    _to_onnx(graphs["animate"], example_inputs("animate", 64), ["image", "alpha"], path, meta)
    x, alpha = example_inputs("animate", 64)
    out = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy(),
                                                                                    "alpha": alpha.numpy()})[0]
    with torch.no_grad():
        ref = load_graphs(str(tmp_path / "fresh.pt"))[0]["animate"](x, alpha).numpy()
    assert np.abs(out - ref).max() < 1e-4


def test_student_cpu_graph_equals_its_full_graph(tmp_path):
    """A distilled student runs at a lower resolution inside the face graph; its CPU graph too."""
    from engines.runnerbench import reference_checkpoint
    from engines.export import load_graphs

    path = reference_checkpoint(str(tmp_path / "student.pt"), size=128, gen_size=64)
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        full = load_graphs(path)[0]["gx"](x)
        for variant in ("cpu", "int8"):
            graphs, meta = load_graphs(path, variant)
            assert meta["regional"]
            assert (graphs["gx"](x) - full).abs().max() < 1e-4, variant
