"""conv1d/conv2d/conv_transpose2d and the Conv layers: shapes, values against a direct NumPy
loop (slow reference, tests only), first and second derivatives by gradcheck in float64,
init, repr and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
from nerve.autograd import gradcheck, gradgradcheck
from nerve.backend import im2col
from nerve.backend.im2col import Window
from nerve.ops import conv as conv_ops


def f64(*shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return nerve.tensor(data, requires_grad=requires_grad)


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv2d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Direct cross-correlation: one window product per output position."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    if padding == "same":
        th, tw = dh * (w.shape[2] - 1), dw * (w.shape[3] - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    else:
        pads = tuple((p, p) for p in pair(0 if padding == "valid" else padding))
    x = np.pad(x, ((0, 0), (0, 0)) + pads)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, ho, wo))
    for g in range(groups):
        xs, ws = x[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og]
        for i in range(ho):
            for j in range(wo):
                patch = xs[:, :, i * sh:i * sh + dh * kh:dh, j * sw:j * sw + dw * kw:dw]
                out[:, g * og:(g + 1) * og, i, j] = np.einsum("ncij,ocij->no", patch, ws)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def conv_transpose2d_ref(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                         dilation=1):
    """Direct definition: every input pixel scatters weight * value into the output."""
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = (pair(stride), pair(padding),
                                                pair(output_padding), pair(dilation))
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = c // groups
    full = np.zeros((n, og * groups, (h - 1) * sh + dh * (kh - 1) + 1 + oph,
                     (wd - 1) * sw + dw * (kw - 1) + 1 + opw))
    for g in range(groups):
        xs, ws = x[:, g * cg:(g + 1) * cg], w[g * cg:(g + 1) * cg]
        for i in range(h):
            for j in range(wd):
                contrib = np.einsum("nc,coab->noab", xs[:, :, i, j], ws)
                full[:, g * og:(g + 1) * og, i * sh:i * sh + dh * kh:dh,
                     j * sw:j * sw + dw * kw:dw] += contrib
    out = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    return out if b is None else out + b.reshape(1, -1, 1, 1)


# ---- shapes ---------------------------------------------------------------------------------
CONV_CASES = [  # (input, weight, kwargs, expected output shape)
    ((2, 3, 8, 8), (4, 3, 3, 3), {}, (2, 4, 6, 6)),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=1), (2, 4, 8, 8)),
    ((2, 3, 9, 7), (4, 3, 3, 3), dict(stride=2, padding=1), (2, 4, 5, 4)),
    ((2, 3, 9, 7), (4, 3, 3, 2), dict(stride=(2, 1), padding=(0, 1)), (2, 4, 4, 8)),
    ((1, 2, 10, 10), (2, 2, 3, 3), dict(dilation=2), (1, 2, 6, 6)),
    ((1, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1), (1, 6, 6, 6)),
    ((2, 5, 6, 6), (5, 1, 3, 3), dict(groups=5, padding=1), (2, 5, 6, 6)),  # depthwise
    ((2, 5, 6, 6), (10, 1, 3, 3), dict(groups=5), (2, 10, 4, 4)),  # depth multiplier 2
    ((2, 3, 5, 4), (7, 3, 1, 1), {}, (2, 7, 5, 4)),  # 1x1
    ((2, 3, 5, 4), (7, 3, 5, 4), {}, (2, 7, 1, 1)),  # kernel = input size
    ((1, 2, 7, 6), (3, 2, 4, 2), dict(padding="same"), (1, 3, 7, 6)),  # even kernel
    ((1, 2, 7, 6), (3, 2, 3, 3), dict(padding="same", dilation=2), (1, 3, 7, 6)),
    ((1, 2, 7, 6), (3, 2, 3, 3), dict(padding="valid"), (1, 3, 5, 4)),
    ((3, 2, 1, 1), (4, 2, 1, 1), {}, (3, 4, 1, 1)),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs, expected", CONV_CASES)
def test_conv2d_shapes_and_values_match_loop_reference(x_shape, w_shape, kwargs, expected):
    x, w, b = f64(*x_shape), f64(*w_shape, seed=1), f64(w_shape[0], seed=2)
    out = F.conv2d(x, w, b, **kwargs)
    assert out.shape == expected
    ref = conv2d_ref(x.detach().numpy(), w.detach().numpy(), b.detach().numpy(), **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs", [
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1), groups=2),
    dict(padding="same", dilation=(1, 2)),
    dict(padding=2, groups=2),  # padding wider than the kernel: the input gradient crops
    dict(groups=4, stride=(2, 1), padding=1, dilation=(1, 2)),  # depthwise, multiplier 2
])
def test_conv2d_gradcheck_first_and_second_order(kwargs):
    x, w, b = f64(2, 4, 6, 5), f64(8, 4 // kwargs.get("groups", 1), 3, 2, seed=1), f64(8, seed=2)

    def fn(x, w, b):
        return F.conv2d(x, w, b, **kwargs)

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_conv2d_float32_in_float32_out():
    x = nerve.randn(2, 3, 6, 6)
    w = nerve.randn(4, 3, 3, 3)
    out = F.conv2d(x, w, padding=1)
    assert out.dtype == np.float32
    ref = conv2d_ref(x.numpy().astype(np.float64), w.numpy().astype(np.float64), padding=1)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-5)


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the matching output size."""
    x, w, y = f64(2, 4, 9, 8), f64(6, 2, 3, 3, seed=1), f64(2, 6, 5, 4, seed=2)
    kwargs = dict(stride=2, padding=1, groups=2)
    lhs = (F.conv2d(x, w, **kwargs) * y).sum().item()
    rhs = (x * F.conv_transpose2d(y, w, output_padding=(0, 1), **kwargs)).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-12)


TRANSPOSE_CASES = [
    ((2, 4, 5, 6), (4, 3, 3, 3), {}, (2, 3, 7, 8)),
    ((2, 4, 5, 6), (4, 3, 4, 4), dict(stride=2, padding=1), (2, 3, 10, 12)),
    ((1, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1), (1, 3, 10, 12)),
    ((1, 4, 3, 4), (4, 2, 3, 2), dict(stride=(2, 3), output_padding=(1, 2), groups=2,
                                      dilation=(1, 2)), (1, 4, 8, 14)),
    ((1, 2, 4, 4), (2, 3, 3, 3), dict(dilation=2, output_padding=1), (1, 3, 9, 9)),
    ((2, 3, 4, 4), (3, 5, 1, 1), {}, (2, 5, 4, 4)),
    ((1, 4, 3, 4), (4, 1, 3, 3), dict(groups=4, stride=2, output_padding=1), (1, 4, 8, 10)),
    ((1, 4, 3, 4), (4, 1, 3, 3), dict(groups=2, padding=1), (1, 2, 3, 4)),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs, expected", TRANSPOSE_CASES)
def test_conv_transpose2d_shapes_values_and_gradients(x_shape, w_shape, kwargs, expected):
    groups = kwargs.get("groups", 1)
    x, w = f64(*x_shape), f64(*w_shape, seed=1)
    b = f64(w_shape[1] * groups, seed=2)
    out = F.conv_transpose2d(x, w, b, **kwargs)
    assert out.shape == expected
    ref = conv_transpose2d_ref(x.detach().numpy(), w.detach().numpy(), b.detach().numpy(),
                               **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)

    def fn(x, w, b):
        return F.conv_transpose2d(x, w, b, **kwargs)

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("kwargs, expected", [
    ({}, (2, 5, 8)), (dict(stride=2, padding=1), (2, 5, 5)), (dict(padding="same"), (2, 5, 10)),
    (dict(dilation=3), (2, 5, 4)),
])
def test_conv1d_matches_conv2d_of_height_one(kwargs, expected):
    x, w, b = f64(2, 4, 10), f64(5, 4, 3, seed=1), f64(5, seed=2)
    out = F.conv1d(x, w, b, **kwargs)
    assert out.shape == expected
    kw2 = {k: (v if isinstance(v, str) else (1, v) if k != "padding" else (0, v))
           for k, v in kwargs.items()}
    ref = conv2d_ref(x.detach().numpy()[:, :, None], w.detach().numpy()[:, :, None],
                     b.detach().numpy(), **kw2)[:, :, 0]
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, **kwargs), (x, w, b))


def test_conv_gradients_only_where_needed_and_with_cols_rebuilt(monkeypatch):
    x, w = f64(2, 3, 6, 6, requires_grad=False), f64(4, 3, 3, 3, seed=1)
    out = F.conv2d(x, w, padding=1)
    out.sum().backward()
    cached = w.grad.numpy().copy()
    assert x.grad is None
    monkeypatch.setattr(conv_ops, "COLS_CACHE_BYTES", 0)  # im2col redone in backward
    w.grad = None
    F.conv2d(x, w, padding=1).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), cached, rtol=1e-12)
    xpad = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.array([[[xpad[:, c, i:i + 6, j:j + 6].sum() for j in range(3)]
                          for i in range(3)] for c in range(3)])
    np.testing.assert_allclose(cached, np.broadcast_to(expected, (4, 3, 3, 3)), atol=1e-12)


@pytest.mark.parametrize("fn, x_shape, w_shape, kwargs, expected",
                         [(F.conv2d,) + c for c in CONV_CASES if c[0][0] > 1]
                         + [(F.conv_transpose2d,) + c for c in TRANSPOSE_CASES if c[0][0] > 1])
def test_conv_in_batch_chunks_matches_one_chunk(monkeypatch, fn, x_shape, w_shape, kwargs,
                                                expected):
    """Large batches run in chunks of samples (cache blocking): one sample per chunk must give
    the same output and gradients as the whole batch at once."""
    def run():
        x, w = f64(*x_shape), f64(*w_shape, seed=1)
        out = fn(x, w, **kwargs)
        (out * f64(*expected, seed=3, requires_grad=False)).sum().backward()
        return out.detach().numpy(), x.grad.numpy(), w.grad.numpy()

    whole = run()
    monkeypatch.setattr(im2col, "CHUNK_BYTES", 1)
    for got, want in zip(run(), whole):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn, x_shape, w_shape, kwargs, expected",
                         [(F.conv2d,) + c for c in CONV_CASES]
                         + [(F.conv_transpose2d,) + c for c in TRANSPOSE_CASES])
@pytest.mark.parametrize("chunk_bytes", [None, 1])
def test_conv_column_layouts_agree(monkeypatch, fn, x_shape, w_shape, kwargs, expected,
                                   chunk_bytes):
    """im2col/col2im in the wide-row layout (whole padded rows, garbage columns), the narrow
    one copied row by row, and the narrow one copied in two passes (stride 1) give the same
    output and gradients, whichever the size heuristics pick."""
    if chunk_bytes:
        monkeypatch.setattr(im2col, "CHUNK_BYTES", chunk_bytes)

    def run(wide_limit, two_stage_width):
        monkeypatch.setattr(im2col, "WIDE_IM2COL", wide_limit)
        monkeypatch.setattr(im2col, "WIDE_COL2IM", wide_limit)
        monkeypatch.setattr(im2col, "TWO_STAGE_MAX_WIDTH", two_stage_width)
        x, w = f64(*x_shape), f64(*w_shape, seed=1)
        out = fn(x, w, **kwargs)
        (out * f64(*expected, seed=3, requires_grad=False)).sum().backward()
        return out.detach().numpy(), x.grad.numpy(), w.grad.numpy()

    row_by_row = run(0, 0)
    for layout in (run(10 ** 6, 0), run(0, 10 ** 6)):
        for got, want in zip(layout, row_by_row):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_two_stage_im2col_equals_im2col():
    """The two-pass copy lays the columns out exactly as im2col does (groups, dilation,
    uneven and negative padding)."""
    rng = np.random.default_rng(0)
    for shape, win in [((3, 4, 9, 7), Window((3, 2), (1, 1), (1, 0, 2, 1), (2, 1), 2)),
                       ((2, 6, 14, 14), Window((5, 5), (1, 1), (0, 0, 0, 0))),
                       ((2, 3, 6, 6), Window((3, 3), (1, 1), (-1, 1, 0, 2)))]:
        x = rng.standard_normal(shape)
        np.testing.assert_array_equal(im2col.im2col_two_stage(x, win), im2col.im2col(x, win)[0])


def test_conv_backward_twice_with_retain_graph():
    x, w = f64(1, 2, 5, 5), f64(3, 2, 3, 3, seed=1)
    out = F.conv2d(x, w).sum()
    out.backward(retain_graph=True)
    first = w.grad.numpy().copy()
    out.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-12)


# ---- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(nerve.ones(3, 8, 8), nerve.ones(4, 3, 3, 3)),
     r"conv2d: expected a 4-D input .*\(3, 8, 8\)"),
    (lambda: F.conv2d(nerve.ones(1, 3, 8, 8), nerve.ones(4, 2, 3, 3)),
     r"conv2d: input of shape \(1, 3, 8, 8\) has 3 channels.*expects 2"),
    (lambda: F.conv2d(nerve.ones(1, 4, 8, 8), nerve.ones(3, 2, 3, 3), groups=2),
     r"out_channels .*\(3\) must be divisible by groups=2"),
    (lambda: F.conv2d(nerve.ones(1, 3, 8, 8), nerve.ones(4, 3, 3, 3), nerve.ones(3)),
     r"expected bias of shape \(4,\), got \(3,\)"),
    (lambda: F.conv2d(nerve.ones(1, 3, 8, 8), nerve.ones(4, 3, 3, 3), stride=2,
                      padding="same"), r"padding='same' is not supported for strided"),
    (lambda: F.conv2d(nerve.ones(1, 3, 2, 2), nerve.ones(4, 3, 3, 3)),
     r"dilated kernel \(3, 3\) is larger than the padded input \(2, 2\)"),
    (lambda: F.conv2d(nerve.ones(1, 3, 8, 8), nerve.ones(4, 3, 3, 3), padding=-1),
     r"padding must be non-negative"),
    (lambda: F.conv2d(nerve.ones(1, 3, 8, 8), nerve.ones(4, 3, 3, 3), stride=0),
     r"stride must be positive"),
    (lambda: F.conv2d(nerve.ones(1, 3, 8, 8), nerve.ones(4, 3, 3, 3, dtype=nerve.float64)),
     r"input dtype float32 and weight dtype float64"),
    (lambda: F.conv_transpose2d(nerve.ones(1, 3, 4, 4), nerve.ones(4, 2, 3, 3)),
     r"conv_transpose2d: input of shape \(1, 3, 4, 4\) has 3 channels"),
    (lambda: F.conv_transpose2d(nerve.ones(1, 4, 4, 4), nerve.ones(4, 2, 3, 3), stride=2,
                                output_padding=2), r"output_padding \(2, 2\) must be smaller"),
    (lambda: F.conv1d(nerve.ones(2, 3, 8, 8), nerve.ones(4, 3, 3)),
     r"conv1d: expected a 3-D input"),
])
def test_functional_errors_name_op_and_shapes(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_conv2d_layer_errors_name_layer_expected_and_actual_shape():
    layer = nn.Conv2d(3, 8, 3)
    name = r"Conv2d\(3, 8, kernel_size=\(3, 3\), stride=\(1, 1\)\)"
    with pytest.raises(ValueError, match=name + r".*\(N, 3, H, W\), got \(3, 16, 16\)"):
        layer(nerve.ones(3, 16, 16))
    with pytest.raises(ValueError, match=name + r".*\(N, 3, H, W\), got \(2, 4, 16, 16\)"):
        layer(nerve.ones(2, 4, 16, 16))
    with pytest.raises(ValueError, match=r"Conv1d\(.*\(N, 2, L\), got \(2, 2, 5, 5\)"):
        nn.Conv1d(2, 4, 3)(nerve.ones(2, 2, 5, 5))
    with pytest.raises(NotImplementedError, match="padding_mode='reflect'"):
        nn.Conv2d(3, 8, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"in_channels \(3\) must be divisible by groups \(2\)"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 8, 3, stride=2, padding="same")


# ---- layers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, args, kwargs, w_shape", [
    (nn.Conv2d, (6, 8, 3), dict(groups=2), (8, 3, 3, 3)),
    (nn.Conv2d, (6, 8, (5, 3)), {}, (8, 6, 5, 3)),
    (nn.Conv1d, (6, 8, 4), {}, (8, 6, 4)),
    (nn.ConvTranspose2d, (6, 8, 4), dict(groups=2), (6, 4, 4, 4)),
])
def test_layer_parameters_and_default_init(cls, args, kwargs, w_shape):
    nerve.manual_seed(0)
    layer = cls(*args, **kwargs)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.shape == w_shape and b.shape == (args[1],) and w.dtype == np.float32
    bound = 1 / math.sqrt(math.prod(w_shape[1:]))
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.var() == pytest.approx(bound ** 2 / 3, rel=0.25)
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert cls(*args, bias=False, dtype=nerve.float64, **kwargs).bias is None
    assert cls(*args, dtype=nerve.float64, **kwargs).weight.dtype == np.float64


def test_layers_forward_match_functional():
    x = f64(2, 4, 7, 7)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    np.testing.assert_allclose(conv(x).detach().numpy(), conv2d_ref(
        x.detach().numpy(), conv.weight.detach().numpy(), conv.bias.detach().numpy(),
        stride=2, padding=1, groups=2), rtol=1e-10)
    up = nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1).double()
    np.testing.assert_allclose(up(x).detach().numpy(), conv_transpose2d_ref(
        x.detach().numpy(), up.weight.detach().numpy(), up.bias.detach().numpy(), stride=2,
        padding=1), rtol=1e-10)
    conv(x).sum().backward()
    assert conv.weight.grad.shape == conv.weight.shape and conv.bias.grad.shape == (6,)


def test_conv_transpose_output_size_argument():
    up = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = nerve.ones(1, 2, 5, 5)
    assert up(x).shape == (1, 3, 9, 9)
    assert up(x, output_size=(10, 9)).shape == (1, 3, 10, 9)
    assert up(x, output_size=(1, 3, 10, 10)).shape == (1, 3, 10, 10)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(.*output size \(12, 9\)"):
        up(x, output_size=(12, 9))


def test_layer_reprs_follow_torch():
    assert repr(nn.Conv2d(3, 16, 3, padding=1)) == \
        "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.Conv2d(4, 8, (3, 5), stride=2, dilation=2, groups=2, bias=False)) == \
        ("Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), dilation=(2, 2), groups=2, "
         "bias=False)")
    assert repr(nn.Conv2d(4, 8, 3, padding="same")) == \
        "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=same)"
    assert repr(nn.Conv1d(3, 5, 3, stride=2)) == "Conv1d(3, 5, kernel_size=(3,), stride=(2,))"
    assert repr(nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, output_padding=1)) == \
        ("ConvTranspose2d(8, 4, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), "
         "output_padding=(1, 1))")
