"""logreg and perceptron (nerve/models/linear.py) and the points task (nerve/tasks/points.py)."""
import json

import numpy
import pytest

import nerve
from nerve import optim
from nerve.cli import main as nerve_main
from nerve.models import get_model
from nerve.models.linear import perceptron_loss
from nerve.tasks.points import POINT_SETS, make_points


@pytest.mark.parametrize("name", ["logreg", "perceptron"])
def test_forward_backward_shapes(name):
    model = get_model(name, in_features=784, num_classes=10)
    x = nerve.randn(3, 1, 28, 28)
    scores = model(x)
    assert scores.shape == (3, 10)
    model.criterion(scores, nerve.tensor([1, 2, 3])).backward()
    assert model.linear.weight.grad.shape == (10, 784)
    assert model.linear.bias.grad.shape == (10,)


def test_perceptron_loss_values_and_gradient_are_the_perceptron_rule():
    scores = nerve.tensor([[2.0, 0.5, 1.0], [0.0, 3.0, 1.0], [1.0, 1.5, 4.0]],
                          dtype=nerve.float64, requires_grad=True)
    target = nerve.tensor([0, 2, 2])
    loss = perceptron_loss(scores, target)
    # row 0 right (0), row 1 wrong by 3 - 1 = 2, row 2 right (0)
    assert loss.item() == pytest.approx(2.0 / 3)
    loss.backward()
    expected = numpy.zeros((3, 3))
    expected[1, 1], expected[1, 2] = 1 / 3, -1 / 3  # +x on the predicted row, -x on the true
    numpy.testing.assert_allclose(scores.grad.numpy(), expected)


def test_one_perceptron_sgd_step_is_rosenblatts_update():
    nerve.manual_seed(0)
    model = get_model("perceptron")
    w0 = model.linear.weight.detach().numpy().copy()
    b0 = model.linear.bias.detach().numpy().copy()
    x = numpy.array([[0.7, -1.3]], dtype=numpy.float32)
    pred = int(numpy.argmax(x @ w0.T + b0))
    y = 1 - pred  # a mistake by construction
    opt = optim.SGD(model.parameters(), lr=1.0)
    model.criterion(model(nerve.tensor(x)), nerve.tensor([y])).backward()
    opt.step()
    w1 = w0.copy()
    w1[y] += x[0]
    w1[pred] -= x[0]
    numpy.testing.assert_allclose(model.linear.weight.detach().numpy(), w1, rtol=1e-6)
    b1 = b0.copy()
    b1[y] += 1
    b1[pred] -= 1
    numpy.testing.assert_allclose(model.linear.bias.detach().numpy(), b1, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(POINT_SETS))
def test_point_sets_are_seeded_2d_binary(name):
    X, y = make_points(name, 100, seed=3)
    X2, y2 = make_points(name, 100, seed=3)
    assert X.shape == (100, 2) and X.dtype == numpy.float32 and y.dtype == numpy.int64
    numpy.testing.assert_array_equal(X, X2)
    assert set(y.tolist()) == {0, 1} and 20 < y.sum() < 80  # shuffled, both classes


@pytest.mark.parametrize("name", ["logreg", "perceptron"])
def test_smoke_training_makes_the_loss_fall(name):
    nerve.manual_seed(0)
    X, y = make_points("linear", 200)
    model = get_model(name)
    opt = optim.SGD(model.parameters(), lr=0.5)
    xt, yt = nerve.tensor(X), nerve.tensor(y)
    first = model.criterion(model(xt), yt).item()
    for _ in range(30):
        opt.zero_grad()
        loss = model.criterion(model(xt), yt)
        loss.backward()
        opt.step()
    assert model.criterion(model(xt), yt).item() < 0.5 * first
    assert (model(xt).detach().numpy().argmax(1) == y).mean() > 0.95


@pytest.mark.parametrize("model,dataset", [("perceptron", "blobs"), ("logreg", "linear")])
def test_cli_train_and_evaluate(tmp_path, capsys, model, dataset):
    out = tmp_path / "run"
    assert nerve_main(["train", model, "--dataset", dataset, "--epochs", "2", "--quiet",
                       "--out", str(out)]) == 0
    for f in ("last.nrv", "best.nrv", "history.csv", "metrics.json"):
        assert (out / f).is_file(), f
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == dataset and metrics["test_samples"] == 400
    floor = 0.85 if dataset == "blobs" else 0.95  # blobs overlap: Bayes accuracy about 92%
    assert metrics["test"]["accuracy"] > floor
    if (out / "curves.png").exists():  # matplotlib installed
        assert (out / "decision.png").is_file()
    capsys.readouterr()
    assert nerve_main(["evaluate", str(out / "last.nrv")]) == 0
    assert f"{100 * metrics['test']['accuracy']:.2f}%" in capsys.readouterr().out


def test_logreg_trains_on_embedded_mnist(tmp_path):
    out = tmp_path / "mnist"
    assert nerve_main(["train", "logreg", "--dataset", "embedded-mnist", "--epochs", "1",
                       "--limit-train", "1000", "--lr", "0.1", "--quiet", "--no-plots",
                       "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"] == {"in_features": 784, "num_classes": 10}
    assert metrics["test"]["accuracy"] > 0.7
