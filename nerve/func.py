"""``nerve.func``: functional transforms, as ``torch.func`` (see nerve/autograd/functional.py).

>>> import nerve
>>> nerve.func.grad(lambda x: (x ** 2).sum())(nerve.tensor([1.0, 2.0]))
tensor([2., 4.])
"""
from .autograd.functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

jacrev = jacobian  # torch.func's name for reverse-mode Jacobians

__all__ = ["grad", "hessian", "hvp", "jacobian", "jacrev", "jvp", "value_and_grad", "vjp"]
