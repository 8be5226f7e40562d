"""Differentiable operations on Tensors: the primitive families and their public functions."""
from . import methods, namespace  # noqa: F401  (installs Tensor methods, engine namespaces)
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, ones, ones_like, rand, rand_like, randint, randn, randn_like,
                       randperm, tensor, zeros, zeros_like)
from .indexing import gather, index_add, index_select, masked_fill, one_hot, scatter_add
from .linalg import einsum, matmul
from .math import (abs, add, all, allclose, amax, amin, any, argmax, argmin, clamp, clip, cos,
                   cumsum, div, elu, eq, erf, exp, expm1, ge, gelu, gt, isfinite, isinf, isnan,
                   le, leaky_relu, log, log1p, log_softmax, logical_and, logical_not,
                   logical_or, logical_xor, logsumexp, lt, max, maximum, mean, min, minimum,
                   mul, ne, neg, pow, prod, relu, rsqrt, sigmoid, sign, silu, sin, softmax,
                   softplus, sqrt, square, std, sub, sum, tanh, var, where)
from .shape import (broadcast_to, cat, chunk, concat, concatenate, expand, expand_dims, flatten,
                    flip, pad, permute, reshape, split, squeeze, stack, swapaxes, transpose,
                    tril, triu, unbind, unsqueeze)

methods.install()

multiply, divide, subtract, negative, power = mul, div, sub, neg, pow
clone = methods.METHODS["clone"]
