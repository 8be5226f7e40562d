"""examples/initialization.py: bad inits decay/explode exponentially, matched ones do not."""

import pytest
from _load import load_example


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    module = load_example("initialization")
    result = module.run(quick=True, out=tmp_path_factory.mktemp("init"))
    return result["details"]["runs"]


def factors(run):
    return run["activation_factor_per_layer"], run["gradient_factor_per_layer"]


@pytest.mark.parametrize("net", ["tanh", "relu"])
def test_too_small_init_makes_signals_and_gradients_vanish_exponentially(runs, net):
    run = runs[f"{net} / too small (std 0.01)"]
    assert max(factors(run)) < 0.5  # shrinks by more than 2x per layer
    assert run["activation_ratio"] < 1e-30 and run["gradient_ratio"] < 1e-30


def test_too_large_init_explodes_relu_and_saturates_tanh(runs):
    relu = runs["relu / too large (std 1.0)"]
    assert min(factors(relu)) > 2 and relu["activation_ratio"] > 1e30
    tanh = runs["tanh / too large (std 1.0)"]
    assert tanh["saturated_fraction"] > 0.8  # units stuck at +-1
    assert tanh["gradient_factor_per_layer"] > 2  # gradients still blow up backward


def test_xavier_halves_a_relu_net_per_layer(runs):
    assert max(factors(runs["relu / Xavier"])) < 0.75


@pytest.mark.parametrize("key", ["tanh / Xavier", "relu / Kaiming"])
def test_matched_inits_keep_variances_stable(runs, key):
    for f in factors(runs[key]):
        assert 0.8 < f < 1.25
    assert runs[key]["activation_ratio"] > 1e-3
