"""gradcheck and gradgradcheck themselves (nerve/autograd/gradcheck.py): they pass correct
functions and catch wrong derivatives, including a wrong rule written as a custom Function."""
import numpy as np
import pytest

import nerve
from nerve.autograd import Function, GradcheckError, gradcheck, gradgradcheck


def leaf(shape, seed=0, dtype=np.float64):
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return nerve.tensor(data, requires_grad=True)


class Cube(Function):
    """x ** 3 with a correct first derivative, and a second derivative as right as ``wrong``."""

    wrong = None

    def forward(self, x):
        self.save(x)
        self.x_constant = x  # not saved: under create_graph it would be a constant
        return x * x * x

    def backward(self, F, g):
        (x,) = self.saved
        if self.wrong == "first":
            return g * 2 * x * x
        if self.wrong == "second":  # value right, but x * x is treated as a constant
            return g * 3 * (self.x_constant * self.x_constant)
        return g * 3 * x * x


def cube(wrong=None):
    return lambda x: Cube.apply(x, wrong=wrong)


def test_correct_functions_pass():
    x, y = leaf((3, 4)), leaf((4,), seed=1)
    assert gradcheck(lambda a, b: (a * b).sin() + a.exp(), (x, y))
    assert gradgradcheck(lambda a, b: (a * b).sin() + a.exp(), (x, y))
    assert gradcheck(cube(), (x,)) and gradgradcheck(cube(), (x,))


def test_several_outputs_and_constant_inputs():
    x = leaf((2, 3))
    c = nerve.tensor(np.arange(6.0).reshape(2, 3))  # no grad: skipped by the check
    assert gradcheck(lambda a, k: (a * k, a.sum() * 2), (x, c))


def test_wrong_backward_raises():
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(cube("first"), (leaf((3,)),))


def test_wrong_backward_returns_false_without_raising():
    assert gradcheck(cube("first"), (leaf((3,)),), raise_exception=False) is False


def test_wrong_second_derivative_is_caught_only_by_gradgradcheck():
    x = leaf((3,))
    assert gradcheck(cube("second"), (x,))
    with pytest.raises(GradcheckError):
        gradgradcheck(cube("second"), (x,))


@pytest.mark.parametrize("wrong, ok", [(None, True), ("first", False)])
def test_random_directions(wrong, ok):
    x = leaf((20, 30))
    assert gradcheck(cube(wrong), (x,), random_directions=3, raise_exception=False) is ok


@pytest.mark.parametrize("check", [gradcheck, gradgradcheck])
def test_float32_inputs_are_rejected(check):
    with pytest.raises(TypeError, match="float64"):
        check(lambda a: a * 2, (leaf((3,), dtype=np.float32),))


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda a: a * 2, (nerve.tensor(np.ones(3)),))


def test_inputs_restored_after_check():
    x = leaf((3,))
    before = x.detach().numpy().copy()
    gradcheck(lambda a: a.sin(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None  # gradcheck uses autograd.grad, leaving .grad alone


def test_scalar_input():
    assert gradcheck(lambda a: a.exp() * a, (leaf(()),))
