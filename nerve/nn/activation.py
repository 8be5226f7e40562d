"""Activation layers: thin modules over ``nerve.nn.functional``'s activations (torch names).

``inplace`` flags are accepted for PyTorch compatibility and ignored: nerve never overwrites
an activation's input.
"""
from __future__ import annotations

from ..ops import creation
from ..ops import math as M
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax", "Softplus", "SiLU", "Hardtanh", "Mish", "Softsign"]


class _Elementwise(Module):
    """An activation applied elementwise; subclasses set ``fn`` and their settings."""

    fn = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self).fn(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Elementwise):
    """max(0, x)."""

    fn = staticmethod(M.relu)


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    fn = staticmethod(M.sigmoid)

    def __init__(self):
        super().__init__()


class Tanh(_Elementwise):
    fn = staticmethod(M.tanh)

    def __init__(self):
        super().__init__()


class SiLU(_Elementwise):
    """x * sigmoid(x) (swish)."""

    fn = staticmethod(M.silu)


class Softsign(_Elementwise):
    """x / (1 + |x|)."""

    fn = staticmethod(lambda x: x / (1 + M.abs(x)))

    def __init__(self):
        super().__init__()


class Mish(_Elementwise):
    """x * tanh(softplus(x)) (Misra, 2019)."""

    fn = staticmethod(lambda x: x * M.tanh(M.softplus(x)))


class Hardtanh(Module):
    """clamp(x, min_val, max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if not min_val < max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must be below max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return M.clamp(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(0, x), 6)."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return ""


class LeakyReLU(Module):
    """x for x >= 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return M.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """LeakyReLU with a learnable slope: one shared (``num_parameters=1``) or one per channel
    (dimension 1 of the input). Default init: every slope = ``init`` (0.25), as PyTorch."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(creation.empty(num_parameters, dtype=dtype, device=device))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input):
        w = self.weight
        if self.num_parameters != 1:
            if input.ndim < 2 or input.shape[1] != self.num_parameters:
                raise ValueError(f"PReLU: expected {self.num_parameters} channels in dimension "
                                 f"1, got input of shape {tuple(input.shape)}")
            w = w.reshape((-1,) + (1,) * (input.ndim - 2))
        return M.where(input >= 0, input, input * w)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return M.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """x * Phi(x) with the exact normal CDF, or its tanh approximation (``approximate='tanh'``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return M.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return M.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def _legacy_softmax_dim(ndim: int) -> int:
    """PyTorch's choice when no ``dim`` is given: 0 for 0-, 1- and 3-D inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim`` (give ``dim``; without it PyTorch's legacy choice
    is used: dim 0 for 0/1/3-D inputs, else 1)."""

    fn = staticmethod(M.softmax)

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        dim = _legacy_softmax_dim(input.ndim) if self.dim is None else self.dim
        return type(self).fn(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably (log-sum-exp shift)."""

    fn = staticmethod(M.log_softmax)
