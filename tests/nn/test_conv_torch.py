"""Convolution, pooling, unpooling and upsampling layers against torch.nn: weights copied from
the torch layer, outputs and input/weight/bias gradients compared (skipped without torch)."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn as nn

torch = pytest.importorskip("torch", reason="torch is the reference for these comparisons")


def run_both(ours, theirs, *inputs, seed=1):
    """Forward both layers in float64 on the same inputs, backward the same random cotangent;
    return (our output, torch output, our tensors, torch tensors) with grads filled in."""
    theirs = theirs.double()
    ours = ours.double()
    for name, p in theirs.named_parameters():
        getattr(ours, name).data = p.detach().numpy().copy()
    xs = [nerve.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    out, ref = ours(*xs), theirs(*ts)
    if isinstance(ref, tuple):  # (values, indices)
        np.testing.assert_array_equal(out[1].numpy(), ref[1].numpy())
        out, ref = out[0], ref[0]
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    (out * nerve.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    for x, t in zip(xs, ts):
        if t.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("args, kwargs, shape", [
    ((3, 8, 3), dict(padding=1), (2, 3, 9, 9)),
    ((4, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
     (2, 4, 9, 8)),
    ((4, 4, 3), dict(groups=4, padding="same", bias=False), (1, 4, 6, 7)),
    ((3, 5, 4), dict(padding="same", dilation=2), (1, 3, 8, 8)),
    ((3, 5, 1), {}, (2, 3, 4, 4)),
])
def test_conv2d(args, kwargs, shape):
    run_both(nn.Conv2d(*args, **kwargs), torch.nn.Conv2d(*args, **kwargs), randn(*shape))


def test_conv1d():
    run_both(nn.Conv1d(3, 4, 3, stride=2, padding=1), torch.nn.Conv1d(3, 4, 3, stride=2,
                                                                      padding=1), randn(2, 3, 9))


@pytest.mark.parametrize("args, kwargs, shape", [
    ((4, 3, 4), dict(stride=2, padding=1), (2, 4, 5, 5)),  # DCGAN-style doubling
    ((4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2), (2, 4, 4, 5)),
    ((2, 3, (3, 2)), dict(stride=(1, 3), dilation=(2, 1), output_padding=(1, 2)), (1, 2, 4, 4)),
])
def test_conv_transpose2d(args, kwargs, shape):
    run_both(nn.ConvTranspose2d(*args, **kwargs), torch.nn.ConvTranspose2d(*args, **kwargs),
             randn(*shape))


def test_conv_transpose2d_output_size():
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2).double(), \
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2).double()
    ours.weight.data, ours.bias.data = (theirs.weight.detach().numpy(),
                                        theirs.bias.detach().numpy())
    x = randn(1, 2, 4, 4)
    out = ours(nerve.tensor(x), output_size=(10, 9))
    ref = theirs(torch.tensor(x), output_size=(10, 9))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=3, stride=2, ceil_mode=True),
                                    dict(kernel_size=(2, 3), stride=1, dilation=2)])
@pytest.mark.parametrize("tied", [False, True])
def test_max_pool2d_with_indices(kwargs, tied):
    x = np.random.default_rng(0).integers(0, 3, (2, 3, 9, 8)) * 1.0 if tied else randn(2, 3, 9, 8)
    run_both(nn.MaxPool2d(return_indices=True, **kwargs),
             torch.nn.MaxPool2d(return_indices=True, **kwargs), x)


def test_max_pool1d_with_indices():
    run_both(nn.MaxPool1d(3, 2, 1, return_indices=True),
             torch.nn.MaxPool1d(3, 2, 1, return_indices=True), randn(2, 3, 10))


@pytest.mark.parametrize("shape, output_size", [((2, 3, 8, 10), None),
                                                 ((2, 3, 9, 11), (9, 11))])
def test_max_unpool2d(shape, output_size):
    x = torch.tensor(randn(*shape))
    values, idx = torch.nn.functional.max_pool2d(x, 2, return_indices=True)

    class Ours(nn.Module):
        def forward(self, v):
            return nn.MaxUnpool2d(2)(v, nerve.tensor(idx.numpy()), output_size)

    class Theirs(torch.nn.Module):
        def forward(self, v):
            return torch.nn.MaxUnpool2d(2)(v, idx, output_size)

    run_both(Ours(), Theirs(), values.numpy())


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=3, stride=2, padding=1,
                                         count_include_pad=False),
                                    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                    dict(kernel_size=(3, 2), stride=(2, 1), ceil_mode=True,
                                         padding=1, count_include_pad=False),
                                    dict(kernel_size=2, divisor_override=3)])
def test_avg_pool2d(kwargs):
    run_both(nn.AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs), randn(2, 3, 9, 8))


@pytest.mark.parametrize("size", [1, (3, 4), (5, None), (12, 11)])
def test_adaptive_avg_pool2d(size):
    run_both(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), randn(2, 3, 7, 9))


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2), dict(scale_factor=3),
                                    dict(size=(11, 7)), dict(scale_factor=1.5),
                                    dict(scale_factor=2, mode="bilinear"),
                                    dict(scale_factor=2, mode="bilinear", align_corners=True),
                                    dict(size=(11, 7), mode="bilinear"),
                                    dict(size=(3, 13), mode="bilinear", align_corners=True),
                                    dict(scale_factor=0.5, mode="bilinear"),
                                    dict(size=(9, 6), mode="nearest-exact")])
def test_upsample(kwargs):
    run_both(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), randn(2, 3, 6, 5))


def test_float32_conv_matches_torch():
    ours, theirs = nn.Conv2d(8, 16, 3, padding=1), torch.nn.Conv2d(8, 16, 3, padding=1)
    ours.weight.data, ours.bias.data = (theirs.weight.detach().numpy(),
                                        theirs.bias.detach().numpy())
    x = randn(4, 8, 12, 12).astype(np.float32)
    out = ours(nerve.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
