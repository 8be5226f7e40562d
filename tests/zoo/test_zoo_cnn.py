"""The CIFAR-10 CNNs (vgg_small, resnet20, plain20, resnet18, densenet_small) and the cifar10
dataset of ``nerve train``."""
import functools
import gzip
import json

import numpy
import pytest

import nerve
from nerve import nn, optim
from nerve.data.datasets import find_shared_data
from nerve.models import get_model, model_spec
from nerve.models.densenet_small import DenseLayer
from nerve.models.resnet20 import BasicBlock

# small configurations of every model, for speed
TINY = {
    "vgg_small": {"widths": (8, 16, 32), "hidden": 32},
    "resnet20": {"widths": (4, 8, 16)},
    "plain20": {"widths": (4, 8, 16)},
    "resnet18": {"width": 4},
    "densenet_small": {"growth_rate": 4, "layers": (2, 2, 2)},
}


def images(n, channels=3, size=32, seed=0):
    rng = numpy.random.default_rng(seed)
    return nerve.Tensor(rng.standard_normal((n, channels, size, size)).astype(numpy.float32))


@pytest.mark.parametrize("name", sorted(TINY))
def test_registered_for_cifar10_classification(name):
    spec = model_spec(name)
    assert spec.train_defaults["dataset"] == "cifar10"
    assert spec.train_defaults["task"] == "classify"
    assert {"in_channels", "num_classes"} <= set(spec.default_config)


@pytest.mark.parametrize("name", sorted(TINY))
def test_forward_and_backward_shapes(name):
    nerve.manual_seed(0)
    model = get_model(name, num_classes=7, **TINY[name])
    out = model(images(3))
    assert out.shape == (3, 7)
    out.sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, pname
        assert numpy.isfinite(p.grad.numpy()).all(), pname


@pytest.mark.parametrize("name, params", [("resnet20", 269_722), ("plain20", 269_722),
                                          ("resnet18", 11_173_962)])
def test_parameter_counts_match_the_papers(name, params):
    # ResNet-20: 0.27M (He et al. 2016, Table 6); ResNet-18 on CIFAR: the usual 11.17M
    assert sum(p.numel() for p in get_model(name).parameters()) == params


@pytest.mark.parametrize("name", ["resnet20", "vgg_small", "densenet_small"])
def test_wrong_input_shape_is_a_clear_error(name):
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, H, W\)"):
        get_model(name, **TINY[name])(nerve.zeros(2, 1, 32, 32))


def _zero_residual_branch(block):
    """Make the block's F(x) zero (its last BatchNorm scale and shift are 0)."""
    bn = block.body[-1][1]
    bn.weight.data[...] = 0
    bn.bias.data[...] = 0


def test_option_a_shortcut_subsamples_and_zero_pads_channels():
    block = BasicBlock(4, 8, stride=2, shortcut="A")
    _zero_residual_branch(block)
    x = images(2, 4).abs() + 0.1  # positive, so the final ReLU keeps it
    y = block(x).detach().numpy()
    assert y.shape == (2, 8, 16, 16)
    numpy.testing.assert_allclose(y[:, 2:6], x.numpy()[:, :, ::2, ::2], rtol=1e-6)
    assert not y[:, :2].any() and not y[:, 6:].any()


def test_option_b_shortcut_is_a_strided_projection_and_gets_gradients():
    block = BasicBlock(4, 8, stride=2, shortcut="B")
    _zero_residual_branch(block)
    x = images(2, 4)
    block.eval()  # BatchNorm with running stats 0/1: the shortcut is the 1x1 conv itself
    y = block(x)
    w = block.projection[0].weight.detach().numpy()[:, :, 0, 0]
    expected = numpy.einsum("oc,nchw->nohw", w, x.numpy()[:, :, ::2, ::2]) / numpy.sqrt(1 + 1e-5)
    numpy.testing.assert_allclose(y.detach().numpy(), numpy.maximum(expected, 0), rtol=1e-4,
                                  atol=1e-5)
    y.sum().backward()
    assert block.projection[0].weight.grad.shape == (8, 4, 1, 1)


def test_identity_shortcut_and_plain_block():
    x = images(2, 8).abs()
    res, plain = BasicBlock(8, 8), BasicBlock(8, 8, residual=False)
    for b in (res, plain):
        _zero_residual_branch(b)
    numpy.testing.assert_allclose(res(x).detach().numpy(), x.numpy())  # relu(0 + x), x >= 0
    assert not plain(x).detach().numpy().any()  # no shortcut: relu(0) everywhere
    assert res.projection is None and plain.projection is None


def test_option_a_needs_an_even_widening():
    with pytest.raises(ValueError, match="option A"):
        BasicBlock(4, 7, stride=2)


def test_dense_layer_concatenates_its_input_and_new_maps():
    layer = DenseLayer(6, growth_rate=3)
    x = images(2, 6, 8)
    y = layer(x)
    assert y.shape == (2, 9, 8, 8)
    numpy.testing.assert_array_equal(y.detach().numpy()[:, :6], x.numpy())


@functools.cache
def _cifar_batch(n):
    """The first ``n`` real CIFAR-10 training images when the shared data is there (only the
    training file is read: it is fast), else random ones."""
    shared = find_shared_data()
    if shared is not None and (shared / "cifar10" / "data_batch_1_first4000.bin.gz").is_file():
        from nerve.data.datasets import CIFAR10
        from nerve.data.transforms import Compose, Normalize, ToTensor
        from nerve.train.recipes import IMAGE_DATASETS

        _, mean, std = IMAGE_DATASETS["cifar10"]
        data = CIFAR10(shared, transform=Compose([ToTensor(), Normalize(mean, std)]))
        x, y = data.get_batch(numpy.arange(n))
        return nerve.Tensor(x), nerve.Tensor(y)
    rng = numpy.random.default_rng(0)
    return images(n), nerve.Tensor(rng.integers(0, 10, n))


@pytest.mark.parametrize("name", sorted(TINY))
def test_smoke_training_makes_the_loss_fall(name):
    nerve.manual_seed(0)
    x, y = _cifar_batch(32)
    model = get_model(name, **TINY[name])
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(20):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


# ---- the cifar10 dataset of nerve train ------------------------------------------------------
@pytest.fixture(scope="module")
def shared_cifar():
    shared = find_shared_data()
    if shared is None or not (shared / "cifar10" / "cifar10_test_jpg.tar.gz").is_file():
        pytest.skip("the shared CIFAR-10 subset (shared/data/cifar10) is not there")
    from nerve.train.recipes import load_image_data

    return load_image_data("cifar10", shared, download=False)


def test_cifar10_loader_on_the_shared_subset(shared_cifar):
    data = shared_cifar
    assert (len(data.train), len(data.test)) == (4000, 10000)
    assert data.input_shape == (3, 32, 32) and len(data.classes) == 10
    assert numpy.bincount(data.test.targets).tolist() == [1000] * 10
    assert any("4,000 training images" in note for note in data.notes)
    x, y = data.train_eval.get_batch(numpy.arange(4000))
    assert x.shape == (4000, 3, 32, 32) and x.dtype == numpy.float32
    # normalized per channel with the CIFAR-10 statistics: about mean 0, std 1 on the subset
    numpy.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0, atol=0.05)
    numpy.testing.assert_allclose(x.std(axis=(0, 2, 3)), 1, atol=0.05)
    assert y.tolist()[:10] == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]  # data_batch_1 starts so


def test_cifar10_training_images_are_cropped_and_flipped(shared_cifar):
    data = shared_cifar
    idx = numpy.arange(16)
    nerve.manual_seed(3)
    aug, _ = data.train.get_batch(idx)
    plain, _ = data.train_eval.get_batch(idx)
    assert aug.shape == plain.shape == (16, 3, 32, 32)
    # black padding (0 before normalization) then every 32x32 window and its mirror image
    mean, std = (numpy.asarray(v, numpy.float32).reshape(1, 3, 1, 1) for v in
                 (data.mean, data.std))
    padded = numpy.pad(plain * std + mean, ((0, 0), (0, 0), (4, 4), (4, 4)))
    flips = 0
    for k in range(16):
        found = [(i, j, f) for i in range(9) for j in range(9) for f in (False, True)
                 if numpy.allclose((padded[k, :, i:i + 32, j:j + 32][..., ::-1] if f else
                                    padded[k, :, i:i + 32, j:j + 32]), aug[k] * std[0] + mean[0],
                                   atol=1e-5)]
        assert found, f"image {k} is not a crop (or mirrored crop) of the padded image"
        flips += found[0][2]
    assert 0 < flips < 16
    assert not numpy.allclose(aug, plain)
    test_x, _ = data.test.get_batch(idx)  # the test split is not augmented
    numpy.testing.assert_array_equal(test_x, data.test.get_batch(idx)[0])


def test_cifar10_is_found_in_the_shared_folder_without_data_dir(shared_cifar, tmp_path,
                                                                monkeypatch):
    from nerve.train.recipes import load_image_data

    monkeypatch.setenv("NERVE_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("NERVE_OFFLINE", "1")
    data = load_image_data("cifar10")
    assert data.source == shared_cifar.source and len(data.train) == 4000


def write_tiny_cifar(root, n=24, seed=0):
    """A tiny CIFAR-10 in the official binary layout (5 training batches + a test batch)."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = numpy.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, n, dtype=numpy.uint8)
        pixels = rng.integers(0, 256, (n, 3072), dtype=numpy.uint8)
        records = numpy.concatenate([labels[:, None], pixels], axis=1)
        (folder / f"{name}.bin.gz").write_bytes(gzip.compress(records.tobytes()))


def test_nerve_train_and_evaluate_cifar10_end_to_end(tmp_path, capsys, monkeypatch):
    from nerve import cli

    write_tiny_cifar(tmp_path / "data")
    monkeypatch.setenv("NERVE_OFFLINE", "1")
    out = tmp_path / "run"
    status = cli.main(["train", "resnet20", "--data-dir", str(tmp_path / "data"), "--epochs",
                       "1", "--batch-size", "32", "--config", "widths=(4, 8, 16)", "--quiet",
                       "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "cifar10" and metrics["config"]["in_channels"] == 3
    assert metrics["train_samples"] == 108 and metrics["val_samples"] == 12
    for name in ("last.nrv", "best.nrv", "history.csv", "curves.png", "weights.png",
                 "confusion.png", "predictions.png"):
        assert (out / name).is_file(), name
    assert cli.main(["evaluate", str(out / "best.nrv"), "--data-dir",
                     str(tmp_path / "data")]) == 0
    assert "on cifar10 test (24 images)" in capsys.readouterr().out
