"""segnet_small (nerve/models/segnet.py), the MNIST canvases (nerve/data/datasets/segmentation.py)
and the segment task (nerve/tasks/segment.py)."""
import argparse
import json

import numpy
import pytest

import nerve
from nerve import nn, optim
from nerve.cli import main as nerve_main
from nerve.data import Subset
from nerve.data.datasets import MNISTCanvas, compose_canvases, embedded_mnist, find_shared_data
from nerve.models import get_model
from nerve.tasks import Run
from nerve.tasks.segment import (
    CANVAS_DEFAULTS,
    MeanIoU,
    PixelAccuracy,
    SegmentTask,
    iou_per_class,
    mean_iou,
    median_frequency_weights,
)
from nerve.train.callbacks import Monitor
from nerve.train.metrics import confusion_matrix, get_metric


@pytest.fixture(scope="module")
def digits():
    ds = embedded_mnist(train=False)  # real MNIST test digits, shipped with nerve
    return ds.data, ds.targets


# ---- the dataset ------------------------------------------------------------------------------
def test_canvases_are_deterministic_per_seed(digits):
    a = compose_canvases(*digits, count=30, seed=5)
    b = compose_canvases(*digits, count=30, seed=5)
    c = compose_canvases(*digits, count=30, seed=6)
    numpy.testing.assert_array_equal(a[0], b[0])
    numpy.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]
    assert not numpy.array_equal(a[0], c[0])
    train = MNISTCanvas(True, 10, source_digits=digits)
    test = MNISTCanvas(False, 10, source_digits=digits)
    assert not numpy.array_equal(train.canvases, test.canvases)  # splits use their own streams


def test_mask_is_the_brightest_digit_above_the_threshold(digits):
    images, labels = digits
    size, cut = 64, 0.5 * 255
    canvases, masks, layout = compose_canvases(images, labels, count=40, size=size, seed=1)
    counts = [len(placed) for placed in layout]
    assert min(counts) == 1 and max(counts) == 3
    for canvas, mask, placed in zip(canvases, masks, layout):
        planes = numpy.zeros((len(placed), size, size), numpy.uint8)
        for k, (index, label, r, c) in enumerate(placed):
            assert labels[index] == label
            planes[k, r:r + 28, c:c + 28] = images[index]
        numpy.testing.assert_array_equal(canvas, planes.max(axis=0))
        # the brightest digit, the later one on a tie: argmax over the reversed stack
        owner = len(placed) - 1 - planes[::-1].argmax(axis=0)
        classes = 1 + numpy.array([label for _, label, _, _ in placed])
        expected = numpy.where(planes.max(axis=0) > cut, classes[owner], 0)
        numpy.testing.assert_array_equal(mask, expected)


def test_a_single_digit_filling_the_canvas_is_labelled_where_it_is_bright():
    tile = numpy.arange(28 * 28, dtype=numpy.int64).reshape(1, 28, 28) % 256
    x, y, layout = compose_canvases(tile.astype(numpy.uint8), numpy.array([7]), count=1,
                                    size=28, digits=(1, 1), threshold=0.5)
    assert layout == [[(0, 7, 0, 0)]]
    numpy.testing.assert_array_equal(x[0], tile[0])
    numpy.testing.assert_array_equal(y[0], numpy.where(tile[0] >= 128, 8, 0))


def test_canvas_dataset_batches(digits):
    ds = MNISTCanvas(True, 12, size=48, source_digits=digits)
    x, y = ds.get_batch([0, 3])
    assert x.shape == (2, 1, 48, 48) and x.dtype == numpy.float32 and 0 <= x.min() <= x.max() <= 1
    assert y.shape == (2, 48, 48) and y.dtype == numpy.int64 and y.max() <= 10
    x0, y0 = ds[3]
    numpy.testing.assert_array_equal(x0, x[1])
    numpy.testing.assert_array_equal(y0, y[1])


def test_canvases_come_from_the_real_mnist_split(monkeypatch, tmp_path):
    if find_shared_data() is None or not (find_shared_data() / "mnist").is_dir():
        pytest.skip("the shared data folder with MNIST is absent")
    monkeypatch.setenv("NERVE_DATA", str(tmp_path))  # nothing there: the shared copy is used
    ds = MNISTCanvas(False, 5)
    assert not ds.embedded and ds.source.endswith("mnist")
    indices = [index for placed in ds.layout for index, *_ in placed]
    assert max(indices) < 10_000  # test digits


# ---- the model --------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(64, 64), (50, 70)])  # 50x70: unpooling needs output_size
def test_forward_backward_shapes(size):
    nerve.manual_seed(0)
    model = get_model("segnet_small", channels=(4, 8, 8))
    x = nerve.randn(2, 1, *size)
    out = model(x)
    assert out.shape == (2, 11, *size)
    nn.CrossEntropyLoss()(out, nerve.tensor(numpy.zeros((2, *size), numpy.int64))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name


def test_unpooling_puts_values_back_at_the_pooling_argmax():
    x = nerve.randn(2, 3, 8, 6)
    pooled, indices = nn.MaxPool2d(2, return_indices=True)(x)
    back = nn.MaxUnpool2d(2)(pooled, indices, output_size=(8, 6)).numpy()
    xs = x.numpy()
    windows = xs.reshape(2, 3, 4, 2, 3, 2)
    is_max = windows == windows.max(axis=(3, 5), keepdims=True)
    numpy.testing.assert_array_equal(back, numpy.where(is_max.reshape(xs.shape), xs, 0))


def test_too_small_input_is_refused():
    with pytest.raises(ValueError, match="at least 8"):
        get_model("segnet_small")(nerve.zeros(1, 1, 6, 6))


def test_per_pixel_cross_entropy_matches_numpy():
    rng = numpy.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 3, 5))
    target = rng.integers(0, 4, size=(2, 3, 5))
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - numpy.log(numpy.exp(z).sum(axis=1, keepdims=True))
    expected = -numpy.take_along_axis(logp, target[:, None], axis=1).mean()
    got = nn.CrossEntropyLoss()(nerve.tensor(logits), nerve.tensor(target)).item()
    assert got == pytest.approx(expected, rel=1e-6)


# ---- the metrics -------------------------------------------------------------------------------
def test_iou_of_perfect_and_partial_predictions():
    target = numpy.array([[[0, 0], [1, 1]]])
    assert mean_iou(confusion_matrix(target, target, num_classes=3)) == 1.0
    cm = confusion_matrix(numpy.array([[[0, 1], [1, 1]]]), target, num_classes=3)
    # class 0: 1 hit, 1 missed -> 1/2; class 1: 2 hits, 1 false alarm -> 2/3; class 2 absent
    iou = iou_per_class(cm)
    numpy.testing.assert_allclose(iou[:2], [1 / 2, 2 / 3])
    assert numpy.isnan(iou[2])
    assert mean_iou(cm) == pytest.approx(7 / 12)
    assert mean_iou(cm, skip_background=True) == pytest.approx(2 / 3)
    # a class predicted but never true counts, with IoU 0
    cm = confusion_matrix(numpy.array([[[2, 0], [1, 1]]]), target, num_classes=3)
    numpy.testing.assert_allclose(iou_per_class(cm), [1 / 2, 1.0, 0.0])


def test_streaming_metrics_pool_pixels_over_batches():
    rng = numpy.random.default_rng(1)
    scores = rng.normal(size=(6, 4, 5, 5))
    target = rng.integers(0, 4, size=(6, 5, 5))
    target[:3] = 0  # batches of very different class content: a mean of batch values differs
    miou, acc = MeanIoU(4), PixelAccuracy()
    for part in (slice(0, 3), slice(3, 6)):
        miou.update(scores[part], target[part])
        acc.update(scores[part], target[part])
    assert miou.compute() == pytest.approx(mean_iou(confusion_matrix(scores, target, 4)))
    assert acc.compute() == pytest.approx((scores.argmax(1) == target).mean())
    fresh = get_metric(miou)  # what fit/evaluate do for each pass: a reset copy
    assert fresh is not miou and fresh.cm.sum() == 0 and miou.cm.sum() == 6 * 25
    assert Monitor("test", "val_mean_iou").mode == "max"


def _expected_weights(masks, num_classes=11):
    """SegNet's median frequency balancing, written out pixel by pixel."""
    masks = masks.reshape(len(masks), -1)
    freq = []
    for c in range(num_classes):
        holding = [m for m in masks if (m == c).any()]
        freq.append(sum((m == c).sum() for m in holding) / (len(holding) * masks.shape[1])
                    if holding else 0.0)
    freq = numpy.array(freq)
    median = numpy.median(freq[freq > 0])
    return numpy.array([median / f if f > 0 else 0.0 for f in freq])


def test_median_frequency_weights_favour_the_rare_digits(digits):
    ds = MNISTCanvas(True, 50, source_digits=digits)
    w = median_frequency_weights(ds, 11)
    numpy.testing.assert_allclose(w, _expected_weights(ds.masks))
    assert w[0] < 0.1 and w[1:].min() > 0.5  # the background covers ~95% of the pixels
    part = Subset(ds, range(10, 14))  # what --val-split/--limit-train leave; some digits absent
    numpy.testing.assert_allclose(median_frequency_weights(part, 11, chunk=3),
                                  _expected_weights(ds.masks[10:14]))


def test_unknown_class_weighting_is_refused():
    run = Run(argparse.Namespace(), {"class_weights": "inverse"}, None, None)
    with pytest.raises(ValueError, match="median-frequency, none"):
        SegmentTask().loss(run, None)


# ---- training ---------------------------------------------------------------------------------
def test_smoke_training_makes_the_loss_fall(digits):
    nerve.manual_seed(0)
    ds = MNISTCanvas(True, 32, size=32, digits=(1, 1), source_digits=digits)
    x, y = (nerve.tensor(a) for a in ds.get_batch(numpy.arange(32)))
    model = get_model("segnet_small", channels=(8, 16))
    opt = optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(25):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_cli_train_and_evaluate(tmp_path, capsys, monkeypatch):
    # fewer canvases than the defaults, to keep the test short; the checkpoint records them
    monkeypatch.setitem(CANVAS_DEFAULTS, "train_canvases", 200)
    monkeypatch.setitem(CANVAS_DEFAULTS, "test_canvases", 40)
    out = tmp_path / "run"
    assert nerve_main(["train", "segnet_small", "--epochs", "1", "--limit-train", "64",
                       "--val-split", "0.01", "--quiet", "--out", str(out)]) == 0
    try:
        import matplotlib  # noqa: F401
        figures = ("curves.png", "predictions.png")
    except ImportError:  # nerve train skips its plots then
        figures = ()
    for f in ("last.nrv", "best.nrv", "history.csv", "metrics.json", *figures):
        assert (out / f).is_file(), f
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert metrics["settings"]["class_weights"] == "median-frequency"
    assert 0 <= test["mean_iou"] <= 1 and 0 <= test["pixel_accuracy"] <= 1
    assert set(test["per_class_iou"]) == {"background", *map(str, range(10))}
    capsys.readouterr()
    assert nerve_main(["evaluate", str(out / "last.nrv")]) == 0
    printed = capsys.readouterr().out
    assert "(40 canvases)" in printed
    assert f"test mean IoU {test['mean_iou']:.4f}" in printed
    assert "background" in printed and "IoU" in printed
