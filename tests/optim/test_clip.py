"""Gradient clipping: the global norm, the norm after clipping, gradients left alone under the
limit, non-finite norms, elementwise clipping, and torch.nn.utils as a reference."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
import nerve.nn.utils
from nerve.optim import clip_grad_norm_, clip_grad_value_, get_total_norm


def with_grads(*grads, dtype="float64"):
    params = []
    for g in grads:
        p = nerve.tensor(np.zeros(np.shape(g)), dtype=dtype, requires_grad=True)
        p.grad = nerve.tensor(np.asarray(g, dtype=dtype))
        params.append(p)
    return params


def grads_of(params):
    return [p.grad.data.copy() for p in params if p.grad is not None]


def joint_norm(arrays, p):
    flat = np.concatenate([a.ravel() for a in arrays])
    return np.abs(flat).max() if p == math.inf else (np.abs(flat) ** p).sum() ** (1 / p)


RNG = np.random.default_rng(0)
GRADS = [RNG.standard_normal((3, 4)) * 5, RNG.standard_normal(4), RNG.standard_normal(())]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
def test_clipped_norm_equals_the_limit(norm_type):
    p = float(norm_type)
    params = with_grads(*GRADS)
    before = grads_of(params)
    total = clip_grad_norm_(params, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, nerve.Tensor) and total.shape == ()
    assert total.item() == pytest.approx(joint_norm(before, p), rel=1e-12)
    after = grads_of(params)
    assert joint_norm(after, p) == pytest.approx(1.5, rel=1e-6)  # 1.5·N/(N + 1e-6)
    scale = after[0].ravel()[0] / before[0].ravel()[0]
    for a, b in zip(after, before):  # one factor for all: the direction is kept
        np.testing.assert_allclose(a, scale * b, rtol=1e-12)


def test_gradients_under_the_limit_are_untouched():
    params = with_grads(*GRADS)
    before = grads_of(params)
    total = clip_grad_norm_(params, max_norm=1e3)
    for a, b in zip(grads_of(params), before):
        np.testing.assert_array_equal(a, b)
    assert total.item() < 1e3


def test_parameters_without_grad_and_a_single_tensor():
    params = with_grads([3.0, 4.0])
    params.append(nerve.tensor([1.0], requires_grad=True))  # no grad: skipped
    assert clip_grad_norm_(params, 1.0).item() == pytest.approx(5.0)
    one = with_grads([0.0, 12.0], dtype="float32")[0]
    total = clip_grad_norm_(one, 6.0)
    assert total.dtype == nerve.float32 and one.grad.dtype == nerve.float32
    np.testing.assert_allclose(one.grad.data, [0.0, 6.0], rtol=1e-6)
    assert clip_grad_norm_([nerve.tensor([1.0], requires_grad=True)], 1.0).item() == 0.0


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_non_finite_norm(bad):
    params = with_grads([1.0, bad], [2.0])
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: the total norm .* is (inf|nan)"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[1].grad.data, [2.0])  # raised before any change
    total = clip_grad_norm_(params, 1.0)  # as PyTorch: the norm comes back, and the
    assert not math.isfinite(total.item())  # gradients are scaled by max_norm / total
    assert np.isnan(params[0].grad.data[1])  # inf · 0 or nan · anything
    np.testing.assert_array_equal(params[1].grad.data, [0.0 if bad == math.inf else math.nan])


def test_clip_grad_value():
    params = with_grads([[-3.0, 0.5], [2.0, -0.25]], [10.0])
    clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad.data, [[-1.0, 0.5], [1.0, -0.25]])
    np.testing.assert_array_equal(params[1].grad.data, [1.0])


def test_get_total_norm_and_nn_utils_name():
    assert get_total_norm([nerve.tensor([3.0]), nerve.tensor([4.0])]).item() == 5.0
    assert nerve.nn.utils.clip_grad_norm_ is clip_grad_norm_
    assert nerve.nn.utils.clip_grad_value_ is clip_grad_value_


@pytest.mark.parametrize("call, match", [
    (lambda ps: clip_grad_norm_(ps, -1.0), "max_norm must be non-negative"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=0), "norm_type must be positive"),
    (lambda ps: clip_grad_value_(ps, -1.0), "clip_value must be non-negative"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(with_grads([1.0]))
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        clip_grad_norm_([np.zeros(2)], 1.0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch", reason="torch is the reference for these tests")
    params = with_grads(*GRADS)
    theirs = [torch.zeros(np.shape(g), dtype=torch.float64, requires_grad=True) for g in GRADS]
    for t, g in zip(theirs, GRADS):
        t.grad = torch.tensor(g)
    total = clip_grad_norm_(params, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(ref.item(), rel=1e-12)
    for p, t in zip(params, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-15)
    clip_grad_value_(params, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, t in zip(params, theirs):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
