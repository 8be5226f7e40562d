"""Normalization: batch/layer/RMS/group norm against NumPy formulas, float64 gradient checks
(first and second order), batch-norm running statistics and train/eval, layer errors."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
from nerve.autograd import gradcheck, gradgradcheck

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


def rand(shape, seed=0, loc=0.0):
    return np.random.default_rng(seed).standard_normal(shape) + loc


def leaf(a, dtype=np.float64):
    return nerve.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def close(actual, expected, dtype=np.float64):
    actual = actual.detach().numpy() if isinstance(actual, nerve.Tensor) else actual
    np.testing.assert_allclose(actual, expected, **TOL[dtype])


def ref_normalize(x, axes, eps, center=True):
    mean = x.mean(axes, keepdims=True) if center else 0.0
    var = ((x - mean) ** 2).mean(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# ---- functional values --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 3), (5, 3, 4), (4, 3, 2, 5)])
def test_batch_norm_train_values(shape, dtype):
    x, w, b = rand(shape, 0, loc=2.0), rand(3, 1), rand(3, 2)
    out = F.batch_norm(nerve.tensor(x.astype(dtype)), None, None, nerve.tensor(w.astype(dtype)),
                       nerve.tensor(b.astype(dtype)), training=True, eps=1e-3)
    axes = (0,) + tuple(range(2, len(shape)))
    cshape = (1, 3) + (1,) * (len(shape) - 2)
    expected = ref_normalize(x, axes, 1e-3) * w.reshape(cshape) + b.reshape(cshape)
    assert out.dtype == np.dtype(dtype)
    close(out, expected, dtype)


def test_batch_norm_float32_accuracy_large_reduction():
    """Statistics over 16k values per channel, far from zero mean, stay float32-accurate."""
    x = rand((16, 4, 32, 32), 3, loc=50.0)
    out = F.batch_norm(nerve.tensor(x.astype(np.float32)), None, None, training=True)
    np.testing.assert_allclose(out.numpy(), ref_normalize(x, (0, 2, 3), 1e-5), atol=2e-4)


def test_batch_norm_eval_uses_running_stats():
    x, w, b = rand((4, 3, 5)), rand(3, 1), rand(3, 2)
    rm, rv = rand(3, 3), np.abs(rand(3, 4)) + 0.5
    out = F.batch_norm(nerve.tensor(x), nerve.tensor(rm), nerve.tensor(rv), nerve.tensor(w),
                       nerve.tensor(b), training=False)
    c = (1, 3, 1)
    close(out, (x - rm.reshape(c)) / np.sqrt(rv.reshape(c) + 1e-5) * w.reshape(c)
          + b.reshape(c))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_shape", [(4,), (3, 4)])
def test_layer_norm_values(norm_shape, dtype):
    x, w, b = rand((2, 3, 4), 0, 1.0), rand(norm_shape, 1), rand(norm_shape, 2)
    axes = tuple(range(3 - len(norm_shape), 3))
    out = F.layer_norm(nerve.tensor(x.astype(dtype)), norm_shape, nerve.tensor(w.astype(dtype)),
                       nerve.tensor(b.astype(dtype)))
    assert out.dtype == np.dtype(dtype)
    close(out, ref_normalize(x, axes, 1e-5) * w + b, dtype)
    plain = F.layer_norm(nerve.tensor(x.astype(dtype)), norm_shape)
    close(plain, ref_normalize(x, axes, 1e-5), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_values_and_default_eps(dtype):
    x, w = rand((3, 5), 0) * 1e-4, rand(5, 1)  # tiny inputs: eps matters
    eps = np.finfo(dtype).eps
    out = F.rms_norm(nerve.tensor(x.astype(dtype)), (5,), nerve.tensor(w.astype(dtype)))
    expected = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w
    close(out, expected, dtype)
    close(F.rms_norm(nerve.tensor(x), 5, eps=0.5),
          x / np.sqrt((x * x).mean(-1, keepdims=True) + 0.5))


@pytest.mark.parametrize("shape", [(2, 6), (2, 6, 5), (3, 6, 2, 3)])
def test_group_norm_values(shape):
    x, w, b = rand(shape, 0, 1.0), rand(6, 1), rand(6, 2)
    out = F.group_norm(nerve.tensor(x), 3, nerve.tensor(w), nerve.tensor(b), eps=1e-4)
    grouped = x.reshape(shape[0], 3, -1)
    normed = ref_normalize(grouped, (2,), 1e-4).reshape(shape)
    c = (1, 6) + (1,) * (len(shape) - 2)
    close(out, normed * w.reshape(c) + b.reshape(c))


# ---- gradients ----------------------------------------------------------------------------------
def _bn_train(x, w, b):
    return F.batch_norm(x, None, None, w, b, training=True, eps=1e-3)


def _bn_eval(x, w, b):
    rm, rv = nerve.tensor(rand(3, 5)), nerve.tensor(np.abs(rand(3, 6)) + 0.5)
    return F.batch_norm(x, rm, rv, w, b, training=False)


CASES = {
    "batch_norm_train_2d": (_bn_train, [(5, 3), (3,), (3,)]),
    "batch_norm_train_4d": (_bn_train, [(3, 3, 2, 2), (3,), (3,)]),
    "batch_norm_eval": (_bn_eval, [(4, 3, 2), (3,), (3,)]),
    "batch_norm_no_affine": (lambda x: F.batch_norm(x, None, None, training=True), [(4, 3, 2)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [(4, 2, 3), (2, 3), (2, 3)]),
    "layer_norm_no_affine": (lambda x: F.layer_norm(x, (5,)), [(3, 5)]),
    "rms_norm": (lambda x, w: F.rms_norm(x, (4,), w, eps=1e-3), [(3, 4), (4,)]),
    "rms_norm_no_weight": (lambda x: F.rms_norm(x, (2, 4)), [(3, 2, 4)]),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    "group_norm_no_affine": (lambda x: F.group_norm(x, 3, eps=1e-3), [(2, 6, 2)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradcheck_and_gradgradcheck(case):
    fn, shapes = CASES[case]
    inputs = [leaf(rand(s, i)) for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_batch_norm_gradient_matches_closed_form():
    """dL/dx = w invstd (g - mean(g) - xhat mean(g xhat)) per channel; dw = sum g xhat."""
    x, w, g = rand((6, 2, 3)), rand(2, 1), rand((6, 2, 3), 2)
    xt, wt = leaf(x), leaf(w)
    out = F.batch_norm(xt, None, None, wt, None, training=True)
    (out * nerve.tensor(g)).sum().backward()
    axes = (0, 2)
    xhat = ref_normalize(x, axes, 1e-5)
    invstd = 1 / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    gx = w.reshape(1, 2, 1) * invstd * (g - g.mean(axes, keepdims=True)
                                        - xhat * (g * xhat).mean(axes, keepdims=True))
    close(xt.grad, gx)
    close(wt.grad, (g * xhat).sum(axes))


# ---- batch-norm modules -------------------------------------------------------------------------
def test_batchnorm_running_stats_update_unbiased():
    bn = nn.BatchNorm1d(3, momentum=0.3).double()
    x1, x2 = rand((8, 3), 0, 1.0), rand((8, 3), 1, -2.0)
    rm, rv = np.zeros(3), np.ones(3)
    for x in (x1, x2):
        bn(nerve.tensor(x))
        rm = 0.7 * rm + 0.3 * x.mean(0)
        rv = 0.7 * rv + 0.3 * x.var(0, ddof=1)
    close(bn.running_mean, rm)
    close(bn.running_var, rv)
    assert bn.num_batches_tracked.dtype == np.int64 and int(bn.num_batches_tracked) == 2


def test_batchnorm_momentum_none_is_cumulative_average():
    bn = nn.BatchNorm2d(2, momentum=None).double()
    batches = [rand((3, 2, 2, 2), s, loc=s) for s in range(3)]
    for x in batches:
        bn(nerve.tensor(x))
    close(bn.running_mean, np.mean([x.mean((0, 2, 3)) for x in batches], 0))
    close(bn.running_var, np.mean([x.var((0, 2, 3), ddof=1) for x in batches], 0))


def test_batchnorm_train_vs_eval():
    bn = nn.BatchNorm1d(3).double()
    x = rand((10, 3, 4), 0, 3.0)
    train_out = bn(nerve.tensor(x))
    close(train_out, ref_normalize(x, (0, 2), 1e-5))
    rm, rv = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    bn.eval()
    eval_out = bn(nerve.tensor(x))
    close(eval_out, (x - rm.reshape(1, 3, 1)) / np.sqrt(rv.reshape(1, 3, 1) + 1e-5))
    close(bn.running_mean, rm)  # evaluation leaves the running stats alone
    assert int(bn.num_batches_tracked) == 1


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval():
    bn = nn.BatchNorm2d(2, track_running_stats=False, affine=False).double().eval()
    assert bn.running_mean is None and list(bn.state_dict()) == []
    x = rand((3, 2, 2, 2), 0, 1.0)
    close(bn(nerve.tensor(x)), ref_normalize(x, (0, 2, 3), 1e-5))


def test_batchnorm_parameters_buffers_and_state_dict():
    bn = nn.BatchNorm2d(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.weight.dtype == np.float32 and np.all(bn.weight.detach().numpy() == 1)
    assert np.all(bn.bias.detach().numpy() == 0) and np.all(bn.running_var.numpy() == 1)
    bn(nerve.randn(3, 4, 2, 2))
    other = nn.BatchNorm2d(4)
    other.load_state_dict(bn.state_dict())
    close(other.running_mean, bn.running_mean.numpy(), np.float32)
    assert int(other.num_batches_tracked) == 1
    bn.reset_running_stats()
    assert np.all(bn.running_mean.numpy() == 0) and int(bn.num_batches_tracked) == 0


def test_batchnorm_gradients_reach_parameters():
    bn = nn.BatchNorm2d(3).double()
    x = leaf(rand((2, 3, 2, 2)))
    (bn(x) * nerve.tensor(rand((2, 3, 2, 2), 1))).sum().backward()
    assert x.grad.shape == (2, 3, 2, 2) and bn.weight.grad.shape == (3,)
    assert bn.bias.grad is not None


@pytest.mark.parametrize("layer, shape, fragment", [
    (nn.BatchNorm2d(3), (2, 3, 4), "4-D"),
    (nn.BatchNorm2d(3), (2, 5, 4, 4), "expected 3 channels"),
    (nn.BatchNorm1d(3), (2, 3, 4, 4), "2-D (N, C) or 3-D"),
    (nn.BatchNorm1d(3), (2, 4), "expected 3 channels"),
    (nn.LayerNorm(4), (2, 5), "LayerNorm((4,))"),
    (nn.RMSNorm((2, 4)), (3, 4), "RMSNorm((2, 4))"),
    (nn.GroupNorm(2, 4), (2, 6, 3), "GroupNorm(2, 4)"),
])
def test_layer_errors_name_layer_and_shape(layer, shape, fragment):
    with pytest.raises(ValueError) as info:
        layer(nerve.zeros(*shape))
    assert fragment in str(info.value) and str(tuple(shape)) in str(info.value)


def test_batch_norm_single_value_per_channel_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(nerve.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(nerve.zeros(1, 3))  # fine with running statistics


def test_functional_errors():
    x = nerve.zeros(2, 6, 3)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        F.group_norm(x, 4)
    with pytest.raises(RuntimeError, match=r"weight must have shape \(3,\)"):
        F.layer_norm(x, (3,), nerve.ones(4))
    with pytest.raises(RuntimeError, match=r"running_mean must have shape \(6,\)"):
        F.batch_norm(x, nerve.zeros(5), nerve.ones(6))
    with pytest.raises(RuntimeError, match="dtype"):
        F.layer_norm(x, (3,), nerve.ones(3, dtype="float64"))
    with pytest.raises(ValueError, match="GroupNorm"):
        nn.GroupNorm(4, 6)


# ---- other modules ------------------------------------------------------------------------------
def test_layernorm_module_options():
    ln = nn.LayerNorm((2, 3), bias=False)
    assert ln.weight.shape == (2, 3) and ln.bias is None
    assert list(ln.state_dict()) == ["weight"]
    assert list(nn.LayerNorm(3, elementwise_affine=False).state_dict()) == []
    x = rand((4, 2, 3))
    close(nn.LayerNorm((2, 3)).double()(nerve.tensor(x)), ref_normalize(x, (1, 2), 1e-5))


def test_rmsnorm_and_groupnorm_modules():
    rms = nn.RMSNorm(4, eps=1e-6).double()
    assert list(rms.state_dict()) == ["weight"] and rms.eps == 1e-6
    x = rand((3, 4))
    close(rms(nerve.tensor(x)), x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6))
    gn = nn.GroupNorm(2, 4).double()
    assert list(gn.state_dict()) == ["weight", "bias"]
    x = rand((2, 4, 3))
    close(gn(nerve.tensor(x)),
          ref_normalize(x.reshape(2, 2, -1), (2,), 1e-5).reshape(x.shape))
