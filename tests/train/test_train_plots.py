"""Plots: each writes a PNG (with matplotlib), or says how to get matplotlib."""
import sys

import numpy
import pytest

import nerve
import nerve.nn as nn
from nerve.train import History, plots
from nerve.train.metrics import confusion_matrix

PNG = b"\x89PNG\r\n\x1a\n"


def _history():
    h = History()
    for epoch, (loss, val) in enumerate([(1.0, 1.1), (0.5, 0.7), (0.3, 0.6)]):
        h.append(epoch, {"loss": loss, "accuracy": 1 - loss / 2, "val_loss": val,
                         "val_accuracy": 1 - val / 2, "lr": 0.1, "time": 1.0})
    return h


@pytest.fixture
def mpl():
    return pytest.importorskip("matplotlib")


def test_every_plot_writes_a_png(tmp_path, mpl):
    nerve.manual_seed(0)
    rng = numpy.random.default_rng(0)
    fig = plots.plot_history(_history(), tmp_path / "curves.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2  # training and validation
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 20), nn.ReLU(), nn.Linear(20, 10))
    fig = plots.plot_weights(plots.first_layer_weight(mlp), tmp_path / "w.png")
    assert sum(bool(ax.images) for ax in fig.axes) == 20
    conv = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU())
    plots.plot_weights(plots.first_layer_weight(conv), tmp_path / "filters.png")
    scores = rng.normal(size=(50, 4))
    labels = rng.integers(0, 4, 50)
    plots.plot_confusion_matrix(confusion_matrix(scores, labels), list("abcd"),
                                tmp_path / "cm.png", normalize=True)
    plots.plot_predictions(rng.integers(0, 255, (10, 28, 28)), labels[:10],
                           scores[:10].argmax(1), list("abcd"), tmp_path / "pred.png",
                           probabilities=rng.random(10))
    for name in ("curves", "w", "filters", "cm", "pred"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG


def test_plot_weights_needs_an_image_shape_it_can_guess(mpl):
    with pytest.raises(ValueError, match="cannot guess an image shape for 10 inputs"):
        plots.plot_weights(numpy.zeros((4, 10)))
    fig = plots.plot_weights(numpy.zeros((4, 10)), image_shape=(2, 5))
    assert fig is not None
    with pytest.raises(ValueError, match="no Linear or Conv2d"):
        plots.first_layer_weight(nn.ReLU())


def test_without_matplotlib_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plots.plot_history(_history())
