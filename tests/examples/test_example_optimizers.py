"""examples/optimizers.py: GD's learning rate, Newton's one step, momentum/Adam vs GD."""

import numpy
import pytest
from _load import load_example


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    module = load_example("optimizers")
    return module.run(quick=True, out=tmp_path_factory.mktemp("optimizers"))


def test_gd_lr_035_oscillates_and_lr_025_converges_monotonically(result):
    slow, bouncing = (result["details"]["two_weight_gd"][lr] for lr in ("0.25", "0.35"))
    # lr 0.35 > 2 / 5.84: the steep coordinate changes sign at every step and does not decay
    assert bouncing["tail_sign_changes"] == 19
    assert bouncing["tail_min_amplitude"] > 0.1
    assert bouncing["final_loss"] > 0.15
    # lr 0.25: the loss never goes up and the iterates reach the minimum
    assert slow["loss_monotone"] and not bouncing["loss_monotone"]
    assert slow["final_distance"] < 1e-3
    assert slow["final_loss"] == pytest.approx(0.04 ** 2 + 0.08 * 1.46, abs=1e-8)


def test_newton_reaches_the_quadratic_minimum_in_one_step(result):
    toys = result["details"]["toys"]["quadratic"]
    numpy.testing.assert_allclose(toys["Newton"]["first_step"], [0.0, 0.0], atol=1e-12)
    assert toys["GD (lr 0.18)"]["first_step"] != pytest.approx([0.0, 0.0], abs=0.1)


def test_momentum_and_adam_beat_gd_on_rosenbrock(result):
    toys = result["details"]["toys"]["rosenbrock"]
    gd = toys["GD (lr 0.001)"]["final_loss"]
    assert gd > 1.0  # crawling: GD must keep lr < 2 / 1000 on the valley's steep walls
    for name in ("momentum 0.9", "Nesterov 0.9", "Adam"):
        assert toys[name]["final_loss"] < 0.2 * gd
    for name in ("Newton", "BFGS", "L-BFGS"):
        assert toys[name]["final_loss"] < 1e-8


def test_every_optimizer_reduces_the_mnist_training_loss(result, tmp_path_factory):
    mnist = result["details"]["mnist"]
    assert len(mnist) == 6
    for run in mnist.values():
        assert run["train_loss"][-1] < 0.6 * run["train_loss"][0]
        assert run["test_accuracy"] > 0.5
