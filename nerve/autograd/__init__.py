"""Tensors and reverse-mode automatic differentiation (see docs/autograd.md)."""
from .engine import backward, grad
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor

__all__ = ["Function", "Tensor", "backward", "enable_grad", "grad", "is_grad_enabled",
           "no_grad", "set_grad_enabled"]
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

__all__ += ["GradcheckError", "gradcheck", "gradgradcheck"]
from . import functional  # noqa: E402  (grad, vjp, jvp, hvp, jacobian, hessian; see nerve.func)

__all__ += ["functional"]
