"""Pooling, unpooling and interpolation: values and indices against direct NumPy loops (slow
references, tests only), exact tie and NaN rules, gradcheck/gradgradcheck in float64, the
layers' reprs and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
from nerve.autograd import gradcheck, gradgradcheck


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def leaf(a, requires_grad=True):
    return nerve.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def f64(*shape, seed=0):
    return leaf(np.random.default_rng(seed).standard_normal(shape))


def distinct(*shape, seed=0):
    """Values at least 0.1 apart: no ties, so max pooling is differentiable everywhere."""
    n = math.prod(shape)
    return leaf((np.random.default_rng(seed).permutation(n) * 0.1).reshape(shape))


def ties(*shape, seed=0):
    """Small integers: most windows hold several equal maxima."""
    return leaf(np.random.default_rng(seed).integers(0, 3, shape))


def out_len(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    o = (span + (s - 1 if ceil_mode else 0)) // s + 1
    return o - 1 if ceil_mode and (o - 1) * s >= n + p else o


def max_pool_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Scan each window in row-major order over real (unpadded) positions; a strictly larger
    value replaces the running maximum, so ties keep the first."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (pair(kernel_size), pair(stride or kernel_size),
                                              pair(padding), pair(dilation))
    n, c, h, w = x.shape
    ho, wo = out_len(h, kh, sh, ph, dh, ceil_mode), out_len(w, kw, sw, pw, dw, ceil_mode)
    values, index = np.zeros((n, c, ho, wo)), np.zeros((n, c, ho, wo), dtype=np.int64)
    for a in range(n):
        for b in range(c):
            for i in range(ho):
                for j in range(wo):
                    best, arg = -np.inf, None
                    for u in range(kh):
                        for v in range(kw):
                            r, q = i * sh - ph + u * dh, j * sw - pw + v * dw
                            if 0 <= r < h and 0 <= q < w and (arg is None or x[a, b, r, q] > best):
                                best, arg = x[a, b, r, q], r * w + q
                    values[a, b, i, j], index[a, b, i, j] = best, arg
    return values, index


def avg_pool_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel_size), pair(stride or kernel_size), pair(padding)
    n, c, h, w = x.shape
    ho, wo = out_len(h, kh, sh, ph, 1, ceil_mode), out_len(w, kw, sw, pw, 1, ceil_mode)
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, q0 = i * sh - ph, j * sw - pw
            r1, q1 = min(r0 + kh, h + ph), min(q0 + kw, w + pw)
            size = (r1 - r0) * (q1 - q0)
            r0, q0, r1, q1 = max(r0, 0), max(q0, 0), min(r1, h), min(q1, w)
            total = x[:, :, r0:r1, q0:q1].sum((2, 3))
            divisor = divisor_override or (size if count_include_pad else
                                           (r1 - r0) * (q1 - q0))
            out[:, :, i, j] = total / divisor
    return out


def adaptive_ref(x, size):
    ho, wo = size
    h, w = x.shape[2:]
    out = np.zeros(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, r1 = math.floor(i * h / ho), math.ceil((i + 1) * h / ho)
            q0, q1 = math.floor(j * w / wo), math.ceil((j + 1) * w / wo)
            out[:, :, i, j] = x[:, :, r0:r1, q0:q1].mean((2, 3))
    return out


def source(i, n, out, align_corners):
    """Continuous source coordinate of output pixel ``i`` (PyTorch's convention)."""
    if align_corners:
        return i * (n - 1) / (out - 1) if out > 1 else 0.0
    return max((i + 0.5) * n / out - 0.5, 0.0)


def bilinear_ref(x, size, align_corners):
    h, w = x.shape[2:]
    out = np.zeros(x.shape[:2] + tuple(size))
    for i in range(size[0]):
        for j in range(size[1]):
            r, q = source(i, h, size[0], align_corners), source(j, w, size[1], align_corners)
            r0, q0 = min(int(r), h - 1), min(int(q), w - 1)
            r1, q1 = min(r0 + 1, h - 1), min(q0 + 1, w - 1)
            a, b = r - r0, q - q0
            out[:, :, i, j] = ((1 - a) * (1 - b) * x[:, :, r0, q0] + (1 - a) * b * x[:, :, r0, q1]
                               + a * (1 - b) * x[:, :, r1, q0] + a * b * x[:, :, r1, q1])
    return out


# ---- max pooling ----------------------------------------------------------------------------
MAX_CASES = [  # (input shape, kwargs)
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 2, 9, 7), dict(kernel_size=3, stride=2, padding=1)),  # overlapping
    ((1, 2, 9, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((1, 2, 8, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 9, 9), dict(kernel_size=(3, 2), stride=1, padding=(1, 0), dilation=(2, 3))),
    ((1, 1, 5, 5), dict(kernel_size=5)),  # kernel = input size
    ((2, 3, 4, 6), dict(kernel_size=1, stride=2)),
]


@pytest.mark.parametrize("make", [distinct, ties])
@pytest.mark.parametrize("shape, kwargs", MAX_CASES)
def test_max_pool2d_values_indices_and_tie_rule(shape, kwargs, make):
    x = make(*shape)
    out, idx = F.max_pool2d(x, return_indices=True, **kwargs)
    values, index = max_pool_ref(x.detach().numpy(), **kwargs)
    np.testing.assert_array_equal(out.detach().numpy(), values)
    np.testing.assert_array_equal(idx.numpy(), index)
    assert idx.dtype == np.int64
    # the gradient goes to the chosen position; windows sharing it add up
    g = np.random.default_rng(1).standard_normal(values.shape)
    (out * leaf(g, False)).sum().backward()
    expected = np.zeros(x.shape[0] * x.shape[1] * x.shape[2] * x.shape[3])
    flat = index + (np.arange(shape[0] * shape[1]) * shape[2] * shape[3]).reshape(
        shape[0], shape[1], 1, 1)
    np.add.at(expected, flat.ravel(), g.ravel())
    np.testing.assert_allclose(x.grad.numpy().ravel(), expected, rtol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_gradcheck_overlapping_windows(kwargs):
    x = distinct(2, 2, 6, 5)
    assert gradcheck(lambda x: F.max_pool2d(x, **kwargs), (x,))
    assert gradgradcheck(lambda x: F.max_pool2d(x, **kwargs) ** 2, (x,))


def test_max_pool2d_nan_and_infinity_rules():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 0] = np.nan
    x[0, 0, :, 2:] = -np.inf
    out, idx = F.max_pool2d(leaf(x), 2, return_indices=True)
    assert np.isnan(out.detach().numpy()[0, 0, 0, 0]) and idx.numpy()[0, 0, 0, 0] == 4
    assert out.detach().numpy()[0, 0, 0, 1] == -np.inf and idx.numpy()[0, 0, 0, 1] == 2
    # padding never wins, even against -inf inputs
    _, idx = F.max_pool2d(leaf(np.full((1, 1, 3, 3), -np.inf)), 2, padding=1,
                          return_indices=True)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 1], [3, 4]])


def test_max_pool1d_and_unbatched_input():
    x = ties(2, 3, 11)
    out, idx = F.max_pool1d(x, 3, 2, 1, return_indices=True)
    values, index = max_pool_ref(x.detach().numpy()[:, :, None], (1, 3), (1, 2), (0, 1))
    np.testing.assert_array_equal(out.detach().numpy(), values[:, :, 0])
    np.testing.assert_array_equal(idx.numpy(), index[:, :, 0])
    x2 = distinct(3, 6, 6)
    np.testing.assert_array_equal(F.max_pool2d(x2, 2).detach().numpy(),
                                  F.max_pool2d(x2.reshape(1, 3, 6, 6), 2).detach().numpy()[0])
    assert gradcheck(lambda x: F.max_pool1d(x, 2), (distinct(2, 2, 6),))


# ---- unpooling ------------------------------------------------------------------------------
def test_max_unpool2d_places_values_at_indices():
    x = distinct(2, 3, 6, 8)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    up = F.max_unpool2d(out, idx, 2)
    assert up.shape == (2, 3, 6, 8)
    xn, un = x.detach().numpy(), up.detach().numpy()
    kept = un != 0
    assert kept.sum() == out.numel()
    np.testing.assert_array_equal(un[kept], xn[kept])  # the maxima, at their own positions
    assert F.max_unpool2d(out, idx, 2, output_size=(7, 9)).shape == (2, 3, 7, 9)
    assert F.max_unpool2d(out, idx, 2, output_size=(2, 3, 7, 8)).shape == (2, 3, 7, 8)
    assert gradcheck(lambda o: F.max_unpool2d(o, idx, 2), (f64(*out.shape),))
    assert gradgradcheck(lambda o: F.max_unpool2d(o * o, idx, 2), (f64(*out.shape),))


def test_unpool_is_the_adjoint_of_max_pool_gather_with_repeated_indices():
    """<pool_gather(x), y> == <x, unpool(y)>: repeated indices (overlapping windows sharing
    a maximum) add up in max_unpool2d."""
    x = ties(2, 2, 7, 7)
    out, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert len(np.unique(idx.numpy()[0, 0])) < idx.numpy()[0, 0].size  # repeats present
    y = f64(*out.shape, seed=3)
    up = F.max_unpool2d(y, idx, 3, 2, 1, output_size=(7, 7))
    lhs = (out * y).sum().item()
    rhs = (x * up).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_max_unpool2d_errors():
    out, idx = F.max_pool2d(nerve.randn(1, 2, 4, 4), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\)"):
        F.max_unpool2d(out, idx, 2, output_size=(2, 2))
    with pytest.raises(ValueError, match=r"indices of shape \(1, 2, 1, 2\) must have"):
        F.max_unpool2d(out, idx[:, :, :1], 2)


# ---- average pooling ------------------------------------------------------------------------
AVG_CASES = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((1, 2, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 9, 7), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 2, 8, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 8, 9), dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True,
                        count_include_pad=False)),
    ((1, 2, 6, 6), dict(kernel_size=3, stride=1, padding=1, divisor_override=4)),
]


@pytest.mark.parametrize("shape, kwargs", AVG_CASES)
def test_avg_pool2d_values_and_gradients(shape, kwargs):
    x = f64(*shape)
    out = F.avg_pool2d(x, **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), avg_pool_ref(x.detach().numpy(), **kwargs),
                               rtol=1e-12)
    assert gradcheck(lambda x: F.avg_pool2d(x, **kwargs), (x,))
    assert gradgradcheck(lambda x: F.avg_pool2d(x * x, **kwargs), (x,))


def test_avg_pool1d():
    x = f64(2, 3, 10)
    out = F.avg_pool1d(x, 3, 2, 1, count_include_pad=False)
    ref = avg_pool_ref(x.detach().numpy()[:, :, None], (1, 3), (1, 2), (0, 1),
                       count_include_pad=False)[:, :, 0]
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12)


@pytest.mark.parametrize("size", [(1, 1), (2, 4), (3, 3), (7, 9), (10, 13), (4, None)])
def test_adaptive_avg_pool2d_values_and_gradients(size):
    x = f64(2, 3, 7, 9)
    out = F.adaptive_avg_pool2d(x, size)
    full = tuple(n if s is None else s for s, n in zip(size, (7, 9)))
    np.testing.assert_allclose(out.detach().numpy(), adaptive_ref(x.detach().numpy(), full),
                               rtol=1e-12)
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), (x,))


def test_adaptive_avg_pool1d():
    x = f64(2, 3, 10)
    out = F.adaptive_avg_pool1d(x, 4)
    ref = adaptive_ref(x.detach().numpy()[:, :, None], (1, 4))[:, :, 0]
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12)


# ---- interpolation --------------------------------------------------------------------------
@pytest.mark.parametrize("size, align_corners", [((10, 14), False), ((10, 14), True),
                                                 ((3, 4), False), ((7, 9), True),
                                                 ((1, 1), True)])
def test_bilinear_values_and_gradients(size, align_corners):
    x = f64(2, 2, 5, 7)
    out = F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)
    np.testing.assert_allclose(out.detach().numpy(),
                               bilinear_ref(x.detach().numpy(), size, align_corners),
                               rtol=1e-10, atol=1e-12)
    fn = lambda x: F.interpolate(x * x, size=size, mode="bilinear",  # noqa: E731
                                 align_corners=align_corners)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_bilinear_keeps_a_linear_ramp_and_corners():
    ramp = leaf(np.add.outer(np.arange(4.0), 2 * np.arange(5.0))[None, None])
    out = F.interpolate(ramp, size=(7, 9), mode="bilinear", align_corners=True).detach().numpy()
    np.testing.assert_allclose(out[0, 0], np.add.outer(np.linspace(0, 3, 7),
                                                       2 * np.linspace(0, 4, 9)), atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(scale_factor=3),
                                    dict(size=(7, 11)), dict(size=(3, 2)),
                                    dict(scale_factor=(2, 1))])
def test_nearest_values_and_gradients(kwargs):
    x = f64(2, 2, 4, 5)
    out = F.interpolate(x, **kwargs)
    h, w = x.shape[2:]
    ho, wo = out.shape[2:]
    rows = np.minimum(np.floor(np.arange(ho) * h / ho).astype(int), h - 1)
    cols = np.minimum(np.floor(np.arange(wo) * w / wo).astype(int), w - 1)
    np.testing.assert_array_equal(out.detach().numpy(), x.detach().numpy()[:, :, rows][..., cols])
    assert gradcheck(lambda x: F.interpolate(x, **kwargs), (x,))


def test_interpolate_1d_and_errors():
    x = f64(2, 3, 5)
    out = F.interpolate(x, scale_factor=2, mode="linear")
    ref = bilinear_ref(x.detach().numpy()[:, :, None], (1, 10), False)[:, :, 0]
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match="mode 'bilinear' is not supported for a 3-D"):
        F.interpolate(x, scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)


# ---- argument errors and layers ---------------------------------------------------------------
@pytest.mark.parametrize("call, message", [
    (lambda: F.max_pool2d(nerve.ones(2, 2, 2, 4, 4), 2), r"max_pool2d: expected a 4-D input"),
    (lambda: F.max_pool2d(nerve.ones(1, 1, 4, 4), 2, padding=2),
     r"padding should be .* at most half"),
    (lambda: F.max_pool2d(nerve.ones(1, 1, 2, 2), 3), r"too small for kernel_size=\(3, 3\)"),
    (lambda: F.avg_pool2d(nerve.ones(1, 1, 4, 4), 0), r"kernel_size must be positive"),
    (lambda: F.adaptive_avg_pool2d(nerve.ones(1, 1, 4, 4), (2, 0)), r"output_size must be"),
])
def test_pooling_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_layers_match_functional_and_accept_unbatched_input():
    x = distinct(2, 3, 8, 8)
    out, idx = nn.MaxPool2d(3, 2, 1, return_indices=True)(x)
    ref, ref_idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    up = nn.MaxUnpool2d(3, 2, 1)(out, idx, output_size=(8, 8))
    assert up.shape == (2, 3, 8, 8)
    np.testing.assert_allclose(nn.AvgPool2d(2)(x[0]).detach().numpy(),
                               F.avg_pool2d(x, 2).detach().numpy()[0])
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    assert nn.AdaptiveAvgPool1d(2)(x[0]).shape == (3, 8, 2)
    assert nn.MaxPool1d(2)(x[0]).shape == (3, 8, 4)
    assert nn.AvgPool1d(2)(x[0]).shape == (3, 8, 4)
    assert nn.Upsample(scale_factor=2, mode="bilinear")(x).shape == (2, 3, 16, 16)
    assert nn.Upsample(size=5)(x).shape == (2, 3, 5, 5)
    assert list(nn.MaxPool2d(2).state_dict()) == []


def test_layer_errors_name_layer_expected_and_actual_shape():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2.*4-D input \(N, C, H, W\) "
                                         r"or 3-D \(C, H, W\), got \(8, 8\)"):
        nn.MaxPool2d(2)(nerve.ones(8, 8))
    with pytest.raises(ValueError, match=r"Upsample\(scale_factor=2.0.*got \(8, 8\)"):
        nn.Upsample(scale_factor=2)(nerve.ones(8, 8))


def test_layer_reprs_follow_torch():
    assert repr(nn.MaxPool2d(2)) == \
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    assert repr(nn.MaxUnpool2d(2)) == \
        "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.Upsample(size=(4, 5), mode="bilinear")) == \
        "Upsample(size=(4, 5), mode='bilinear')"
