"""examples/vanishing_gradients.py: sigmoid gradients vanish toward the input, residual ones
do not."""

import pytest
from _load import load_example


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    module = load_example("vanishing_gradients")
    return module.run(quick=True, out=tmp_path_factory.mktemp("vg"))


def test_sigmoid_first_layer_gradient_is_orders_of_magnitude_below_the_last(result):
    runs = result["details"]["runs"]
    norms = runs["sigmoid"]["grad_norms"]
    assert len(norms) == 20
    assert norms[0] / norms[-1] < 1e-6
    assert all(a < b for a, b in zip(norms[2:], norms[3:]))  # shrinking toward the input


@pytest.mark.parametrize("net", ["relu", "residual+layernorm"])
def test_relu_and_residual_gradients_do_not_vanish(result, net):
    norms = result["details"]["runs"][net]["grad_norms"]
    assert 0.1 < norms[0] / norms[-1] < 100
    assert min(norms) > 0.01 * max(norms)


def test_residual_net_trains_while_sigmoid_net_does_not(result):
    runs = result["details"]["runs"]
    assert runs["residual+layernorm"]["final_loss"] < 1.0
    assert runs["sigmoid"]["final_loss"] > 2.0  # ln 10 = 2.30: still guessing
    assert runs["residual+layernorm"]["test_accuracy"] > 0.6
