"""training.losses against values worked by hand (plain Python arithmetic on small tensors)."""
import math

import pytest
import torch
from torch import nn

from training import losses


def softplus(x):
    return math.log1p(math.exp(x))


def test_adversarial_terms_are_the_softplus_means_of_the_papers_equations():
    """D: softplus(-real) averaged, plus softplus(fake) averaged for each fake batch; G:
    softplus(-fake) averaged."""
    real, fake1, fake2 = torch.tensor([0.0, 2.0]), torch.tensor([0.0, -1.0]), torch.tensor([3.0, 1.0])
    expected = ((softplus(0) + softplus(-2)) / 2 + (softplus(0) + softplus(-1)) / 2
                + (softplus(3) + softplus(1)) / 2)
    assert losses.d_adversarial(real, fake1, fake2).item() == pytest.approx(expected, rel=1e-6)
    assert losses.d_adversarial(real).item() == pytest.approx((softplus(0) + softplus(-2)) / 2, rel=1e-6)
    assert losses.g_adversarial(fake1).item() == pytest.approx((softplus(0) + softplus(1)) / 2, rel=1e-6)


def test_masked_l1_sums_the_boxes_per_sample_and_divides_by_box_area_times_three():
    """Eqs. 2/4/6 as the official code normalises them: per sample the sum of |diff| inside the
    mask, averaged over the batch, over (box area x 3 channels); the mask's outside is ignored."""
    target = torch.full((2, 3, 4, 4), 0.5)  # not zero: |output - target|, not |output|
    output = torch.full((2, 3, 4, 4), 0.5)
    mask = torch.zeros(2, 1, 4, 4)
    mask[:, :, 1:3, 1:3] = 1  # a 2x2 box
    output[0, 0, 1, 1] = 2.5   # inside: counts 2
    output[0, 2, 2, 2] = -0.5  # inside, below the target: |.| counts 1
    output[1, 1, 1, 2] = 3.5   # inside, second sample: 3
    output[:, :, 0, 0] = 50.0  # outside: ignored
    expected = ((2 + 1) + 3) / 2 / (4 * 3)
    for loss in (losses.masked_l1, losses.recon_x, losses.recon_y, losses.synthesis_as_training):
        assert loss(output, target, mask, 4).item() == pytest.approx(expected, rel=1e-6), loss.__name__


def test_synthesis_as_training_learns_nothing_through_its_target():
    """Eq. 6's target (the G_x-corrected sample) is fixed: no gradient reaches it."""
    y_hat = torch.ones(1, 3, 2, 2, requires_grad=True)
    target = torch.zeros(1, 3, 2, 2, requires_grad=True)
    losses.synthesis_as_training(y_hat, target, torch.ones(1, 1, 2, 2), 4).backward()
    assert target.grad is None and y_hat.grad is not None and (y_hat.grad != 0).all()


def test_latent_reconstruction_is_both_round_trips_mean_absolute_error():
    r_y, r_yt = torch.tensor([[1.0, 2.0]]), torch.tensor([[1.5, 1.0]])   # mean |.| = 0.75
    r_yx, r_yh = torch.tensor([[1.0, 2.0]]), torch.tensor([[-1.0, 5.0]])  # mean |.| = 2.5
    assert losses.latent_reconstruction(r_y, r_yt, r_yx, r_yh).item() == pytest.approx(3.25)


class Scale(nn.Module):
    """A stand-in autoencoder: pam(x) = k * x."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return self.k * x


def test_mirror_loss_rebuilds_each_eye_from_itself_and_from_the_other_mirrored():
    """l_pre: |L - P(L)| + |L - P(flip R)| + |R - P(R)| + |R - P(flip L)|, each averaged."""
    left = torch.tensor([[[[1.0, 2.0, 4.0]]]])
    right = torch.tensor([[[[4.0, 2.0, 0.0]]]])
    # P = identity: only the mirrored terms count. flip(R) = [0, 2, 4]: |L - flip R| = [1, 0, 0];
    # flip(L) = [4, 2, 1]: |R - flip L| = [0, 0, 1]. Each averaged over 3: 1/3 + 1/3.
    assert losses.mirror_loss(Scale(1.0), left, right).item() == pytest.approx(2 / 3, rel=1e-6)
    # P = 0: every term is the eye's own mean absolute value: 2 * 7/3 + 2 * 6/3.
    assert losses.mirror_loss(Scale(0.0), left, right).item() == pytest.approx(2 * 7 / 3 + 2 * 2, rel=1e-6)


# VGG16's convolutions as torchvision numbers them in `features` (index: in, out channels).
VGG16_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256), 12: (256, 256),
               14: (256, 256), 17: (256, 512), 19: (512, 512), 21: (512, 512), 24: (512, 512),
               26: (512, 512), 28: (512, 512)}


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    torch.manual_seed(0)
    state = {}
    for index, (cin, cout) in VGG16_CONVS.items():
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3) * (2 / (9 * cin)) ** 0.5
        state[f"features.{index}.bias"] = torch.randn(cout) * 0.01
    state["classifier.0.weight"] = torch.zeros(1)  # a torchvision file holds these too: ignored
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save(state, path)
    return path, state


def test_the_vgg_term_loads_a_torchvision_vgg16_file_frozen(vgg_file):
    path, state = vgg_file
    vgg = losses.load_vgg_loss(str(path))
    for index in VGG16_CONVS:
        assert torch.equal(vgg.features[index].weight, state[f"features.{index}.weight"])
        assert torch.equal(vgg.features[index].bias, state[f"features.{index}.bias"])
    assert not any(p.requires_grad for p in vgg.parameters())
    # ImageNet's per-channel mean and deviation, the statistics VGG16 was trained with.
    assert torch.allclose(vgg.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    assert torch.allclose(vgg.std.flatten(), torch.tensor([0.229, 0.224, 0.225]))


def test_the_vgg_term_is_zero_for_equal_crops_and_grows_with_the_difference(vgg_file):
    vgg = losses.VGGLoss(str(vgg_file[0]))
    torch.manual_seed(1)
    crops = torch.rand(1, 2, 3, 32, 32) * 2 - 1  # (batch, eyes, C, H, W) in [-1, 1]
    assert vgg(crops, crops).item() == 0.0
    near, far = vgg(crops, (crops + 0.05).clamp(-1, 1)), vgg(crops, -crops)
    assert 0 < near.item() < far.item()


def test_the_gram_matrix_is_the_channel_products_over_c_h_w():
    """Gram of f (1 sample, 2 channels, 2x2): entries sum_k f_i,k f_j,k / (2 * 2 * 2)."""
    f = torch.tensor([[[[1.0, 2.0], [0.0, 1.0]], [[3.0, -1.0], [1.0, 0.0]]]])
    expected = torch.tensor([[[6.0, 1.0], [1.0, 11.0]]]) / 8
    assert torch.allclose(losses.VGGLoss._gram(f), expected)


def test_the_first_vgg_block_is_vgg16s_on_imagenet_normalised_input(vgg_file):
    """conv1_2 (after its ReLU) worked by hand from the published VGG16: the [-1, 1] crops mapped
    to [0, 1], normalised by ImageNet's mean and deviation, then two 3x3 convolutions with one
    pixel of padding, each followed by a ReLU."""
    import torch.nn.functional as F

    path, state = vgg_file
    vgg = losses.VGGLoss(str(path))
    torch.manual_seed(2)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    y = ((x + 1) / 2 - mean) / std
    for index in (0, 2):
        y = F.relu(F.conv2d(y, state[f"features.{index}.weight"], state[f"features.{index}.bias"], padding=1))
    got = vgg._feats(x)[3]
    assert got.shape == y.shape and torch.allclose(got, y, atol=1e-5)


class Planted:
    """An object whose unpickling would run code: it writes a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_the_vgg_file_is_read_as_weights_only(tmp_path):
    """The weights file comes from outside: it is read as tensors only, so a file carrying
    code is refused and the code never runs."""
    marker = tmp_path / "ran"
    path = tmp_path / "vgg16.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "extra": Planted(str(marker))}, path)
    with pytest.raises(Exception):
        losses.VGGLoss(str(path))
    assert not marker.exists()
