import pytest
import torch

from training import losses
from training.networks import (AngleEncoder, Discriminator, InpaintGenerator, PAMAutoencoder, boxes_mask,
                               count_parameters, crop_eyes)


def test_reference_parameter_counts():
    # Reference architecture figures: G_x about 22.0M parameters, dominated by its FC layers.
    gx = InpaintGenerator()
    assert 21.9e6 < count_parameters(gx) < 22.1e6
    gy = InpaintGenerator(code=2)
    assert count_parameters(gy) - count_parameters(gx) == 2 * 256 * 8 * 8  # r (2) feeds the 8x8x256 FC
    fc = gx.fc_in.weight.numel() + gx.fc_out.weight.numel()
    assert fc > 0.7 * count_parameters(gx)
    assert PAMAutoencoder().encoder.fc.out_features == 256
    assert AngleEncoder().fc.out_features == 2


@pytest.mark.parametrize("size", [256, 512])
def test_shapes_and_masked_output(size):
    b = 2
    image = torch.rand(b, 3, size, size) * 2 - 1
    boxes = torch.tensor([[[size // 4, size // 2, size // 4 + 60, size // 2 + 40],
                           [size // 2, size // 2, size // 2 + 60, size // 2 + 40]]] * b)
    mask = boxes_mask(boxes, size)
    assert mask.shape == (b, 1, size, size) and mask[0].sum() == 2 * 40 * 60
    crops = crop_eyes(image, boxes, 64)
    assert crops.shape == (b, 2, 3, 64, 64)
    pam = PAMAutoencoder()
    c = pam.encoder(crops.flatten(0, 1)).view(b, -1)
    assert c.shape == (b, 512) and pam(crops[:, 0]).shape == (b, 3, 64, 64)
    gx = InpaintGenerator(size=size)
    out = gx(image, mask, c)
    assert out.shape == image.shape
    assert torch.equal(out * (1 - mask), image * (1 - mask))  # outside the boxes: the input, exactly
    gy, er = InpaintGenerator(size=size, code=2), AngleEncoder()
    r = er(crops)
    assert r.shape == (b, 2) and gy(image, mask, c, r).shape == image.shape
    d = Discriminator(size=size)
    assert d(image, crops).shape == (b,)


def test_discriminator_is_spectrally_normalised_everywhere():
    d = Discriminator(64, 16, 8)
    layers = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    g = InpaintGenerator(64, 8, 32, 32)
    assert not any(hasattr(m, "parametrizations") for m in g.modules())


def test_crop_eyes_matches_a_plain_resize_inside_the_image():
    image = torch.linspace(-1, 1, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64).contiguous()
    boxes = torch.tensor([[[8, 8, 24, 18], [30, 20, 46, 30]]])
    crops = crop_eyes(image, boxes, 16)
    # a horizontal ramp stays a ramp spanning the box's own x range
    row = crops[0, 0, 0, 0]
    assert torch.all(row[1:] > row[:-1])
    assert row[0] > image[0, 0, 0, 7] and row[-1] < image[0, 0, 0, 24]


def test_losses_behave():
    real, fake = torch.full((4,), 5.0), torch.full((4,), -5.0)
    assert losses.d_adversarial(real, fake) < 0.02 < losses.d_adversarial(fake, real)
    assert losses.g_adversarial(real) < losses.g_adversarial(fake)
    a, m = torch.zeros(2, 3, 8, 8), torch.zeros(2, 1, 8, 8)
    m[..., 2:4, 2:5] = 1
    b = a + 1
    assert losses.masked_l1(b, a, m, 6) == pytest.approx(1.0)  # 6 masked pixels x 3 channels / (6 * 3)
    assert losses.masked_l1(b * (1 - m), a, m, 6) == 0
    r = torch.zeros(2, 2)
    assert losses.latent_reconstruction(r, r + 1, r, r) == pytest.approx(1.0)
    pam = PAMAutoencoder(16, 4, 8)
    left, right = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    with torch.no_grad():  # l_pre as section 3.3 writes it, term by term (hand values: test_losses.py)
        terms = [(a - pam(b)).abs().mean() for a, b in
                 ((left, left), (left, right.flip(-1)), (right, right), (right, left.flip(-1)))]
        assert losses.mirror_loss(pam, left, right).item() == pytest.approx(sum(terms).item(), rel=1e-5)


def test_vgg_term_is_optional_and_says_so(caplog):
    assert losses.load_vgg_loss(None) is None
    assert "VGG" in caplog.text and "off" in caplog.text
    with pytest.raises(FileNotFoundError, match="--vgg-weights"):
        losses.load_vgg_loss("/nonexistent/vgg16.pth")
