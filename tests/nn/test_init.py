"""nerve.nn.init: empirical moments of large draws against each formula, orthogonality,
gains and fans (against torch.nn.init where installed)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
from nerve.nn import Parameter, init

SHAPE = (400, 500)  # 200k draws: the sample variance is within ~1% of the truth
FAN_IN, FAN_OUT = 500, 400


def draw(fn, shape=SHAPE, **kwargs):
    nerve.manual_seed(0)
    return fn(nerve.empty(*shape, dtype=nerve.float64), **kwargs).numpy()


def uniform_var(bound):
    return bound ** 2 / 3


@pytest.mark.parametrize("fn, kwargs, variance", [
    (init.uniform_, dict(a=-2.0, b=4.0), 36 / 12),
    (init.normal_, dict(mean=0.0, std=0.3), 0.09),
    (init.xavier_uniform_, {}, 2 / (FAN_IN + FAN_OUT)),
    (init.xavier_uniform_, dict(gain=2.0), 4 * 2 / (FAN_IN + FAN_OUT)),
    (init.xavier_normal_, dict(gain=0.5), 0.25 * 2 / (FAN_IN + FAN_OUT)),
    (init.kaiming_uniform_, {}, 2 / (1 + 0) / FAN_IN),
    (init.kaiming_uniform_, dict(a=math.sqrt(5)), 1 / 3 / FAN_IN),
    (init.kaiming_normal_, dict(nonlinearity="relu"), 2 / FAN_IN),
    (init.kaiming_normal_, dict(a=0.2, mode="fan_out"), 2 / (1 + 0.04) / FAN_OUT),
    (init.kaiming_normal_, dict(mode="fan_out", nonlinearity="tanh"), (5 / 3) ** 2 / FAN_OUT),
    (init.lecun_normal_, {}, 1 / FAN_IN),
])
def test_variance_matches_formula(fn, kwargs, variance):
    values = draw(fn, **kwargs)
    assert values.var() == pytest.approx(variance, rel=0.02)
    expected_mean = kwargs.get("mean", 1.0 if fn is init.uniform_ else 0.0)
    assert values.mean() == pytest.approx(expected_mean, abs=4 * math.sqrt(variance / values.size))


@pytest.mark.parametrize("fn, kwargs, bound", [
    (init.uniform_, dict(a=-2.0, b=4.0), None),
    (init.xavier_uniform_, {}, math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (init.kaiming_uniform_, dict(a=math.sqrt(5)), 1 / math.sqrt(FAN_IN)),
])
def test_uniform_bounds(fn, kwargs, bound):
    values = draw(fn, **kwargs)
    lo, hi = (kwargs["a"], kwargs["b"]) if bound is None else (-bound, bound)
    assert values.min() >= lo and values.max() < hi
    assert values.min() < lo + 0.01 * (hi - lo) and values.max() > hi - 0.01 * (hi - lo)


def test_conv_weight_uses_receptive_field():
    # Conv2d(16 -> 32, 3x3, groups=4) holds (32, 4, 3, 3): fan_in = 4 * 9, fan_out = 32 * 9
    w = draw(init.kaiming_normal_, shape=(32, 4, 3, 3), nonlinearity="relu")
    assert init._calculate_fan_in_and_fan_out(nerve.empty(32, 4, 3, 3)) == (36, 288)
    assert w.var() == pytest.approx(2 / 36, rel=0.15)


@pytest.mark.parametrize("shape, fans", [
    ((3, 5), (5, 3)), ((8, 2, 3), (6, 24)), ((16, 4, 3, 3), (36, 144)),
    ((6, 2, 1, 3, 5), (30, 90)),
])
def test_fans(shape, fans):
    assert init._calculate_fan_in_and_fan_out(nerve.empty(*shape)) == fans


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(nerve.empty(5))


@pytest.mark.parametrize("name, param, gain", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", 0.2, math.sqrt(2 / (1 + 0.2 ** 2))), ("selu", None, 0.75),
])
def test_calculate_gain(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain, rel=1e-15)


@pytest.mark.parametrize("args", [("swish",), ("leaky_relu", "x"), ("leaky_relu", True)])
def test_calculate_gain_rejects(args):
    with pytest.raises(ValueError):
        init.calculate_gain(*args)


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (8, 2, 3, 3), (5, 5)])
def test_orthogonal(shape):
    w = draw(init.orthogonal_, shape=shape, gain=2.0).reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 4 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_is_not_biased_to_positive_diagonal():
    # signs of R's diagonal are folded in, so the draws are Haar: diagonal entries of Q average 0
    nerve.manual_seed(1)
    diag = np.array([init.orthogonal_(nerve.empty(3, 3, dtype=nerve.float64)).numpy().diagonal()
                     for _ in range(400)])
    assert abs(diag.mean()) < 0.1


def test_trunc_normal_bounds():
    values = draw(init.trunc_normal_, std=1.0, a=-0.5, b=1.5)
    assert values.min() >= -0.5 and values.max() <= 1.5
    # the mean of N(0,1) truncated to [-0.5, 1.5] is (phi(-0.5) - phi(1.5)) / (Phi(1.5) - Phi(-0.5))
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    assert values.mean() == pytest.approx((pdf(-0.5) - pdf(1.5)) / (cdf(1.5) - cdf(-0.5)),
                                          abs=0.01)


def test_constants_eye_dirac():
    assert np.all(init.constant_(nerve.empty(2, 3), 0.5).numpy() == 0.5)
    assert np.all(init.zeros_(nerve.ones(4)).numpy() == 0)
    assert np.all(init.ones_(nerve.zeros(4)).numpy() == 1)
    np.testing.assert_array_equal(init.eye_(nerve.empty(2, 3)).numpy(), np.eye(2, 3))
    k = init.dirac_(nerve.empty(4, 2, 3, 3), groups=2).numpy()
    assert k.sum() == 4 and k[0, 0, 1, 1] == k[1, 1, 1, 1] == k[2, 0, 1, 1] == k[3, 1, 1, 1] == 1


def test_in_place_on_a_parameter_outside_the_graph():
    p = Parameter(nerve.zeros(3, 4, dtype=nerve.float64))
    data_id = id(p)
    out = init.kaiming_uniform_(p)
    assert out is p and id(p) == data_id
    assert p.dtype == np.float64 and p.requires_grad and p.grad_fn is None
    assert np.any(p.detach().numpy() != 0)


def test_seeded_draws_repeat():
    assert np.array_equal(draw(init.normal_, shape=(3, 3)), draw(init.normal_, shape=(3, 3)))
    gen = np.random.default_rng(5)
    a = init.uniform_(nerve.empty(4), generator=gen).numpy()
    b = init.uniform_(nerve.empty(4), generator=np.random.default_rng(5)).numpy()
    np.testing.assert_array_equal(a, b)


def test_zero_element_tensors_are_left_alone():
    assert init.kaiming_uniform_(nerve.empty(0, 3)).shape == (0, 3)
    assert init.orthogonal_(nerve.empty(0, 3)).shape == (0, 3)
    assert init.xavier_normal_(nerve.empty(0, 3)).shape == (0, 3)


def test_against_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    for name in ("linear", "tanh", "relu", "selu"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.3) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.3))
    for shape in [(3, 5), (16, 4, 3, 3), (6, 2, 1, 3, 5)]:
        assert init._calculate_fan_in_and_fan_out(nerve.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
