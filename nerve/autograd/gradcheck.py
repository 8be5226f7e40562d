"""Finite-difference checks of analytic gradients (float64 central differences)."""
from __future__ import annotations

import numpy

from .engine import grad as autograd_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic and numerical derivatives disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _diff_inputs(inputs):
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _check_float64(where, inputs):
    for i in _diff_inputs(inputs):
        if inputs[i].dtype != numpy.float64:
            raise TypeError(f"{where}: input {i} has dtype {inputs[i].dtype}; finite "
                            "differences need float64 inputs")


def _flat_value(fn, inputs, weights):
    """Scalar sum_k <weights_k, out_k> as a Python float (the function probed numerically)."""
    total = 0.0
    for out, w in zip(_outputs(fn, inputs), weights):
        if isinstance(out, Tensor):
            total += float((out.detach().numpy().astype(numpy.float64) * w).sum())
    return total


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              random_directions: int | None = None, seed: int = 0,
              raise_exception: bool = True) -> bool:
    """Compare autograd's gradients of ``fn(*inputs)`` against central differences.

    Each output is contracted with a random weight so one backward pass checks the full
    Jacobian-transpose product. With ``random_directions=k`` (for large inputs) only k random
    directional derivatives are compared instead of one difference per input element.

    >>> import nerve
    >>> x = nerve.randn(3, dtype=nerve.float64, requires_grad=True)
    >>> gradcheck(lambda t: (t * t).sin(), (x,))
    True
    """
    inputs = tuple(inputs)
    _check_float64("gradcheck", inputs)
    rng = numpy.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o.shape) for o in outs]
    diff = _diff_inputs(inputs)
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    seeds = [Tensor(numpy.asarray(w, dtype=o.dtype)) for o, w in zip(outs, weights)]
    live = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
    if live:
        analytic = autograd_grad([o for o, _ in live], [inputs[i] for i in diff],
                                 [s for _, s in live], allow_unused=True)
    else:
        analytic = [None] * len(diff)
    analytic = [numpy.zeros(inputs[i].shape) if a is None else a.numpy()
                for i, a in zip(diff, analytic)]

    def probe(i, direction):
        x = inputs[i]
        original = x.data
        try:
            # asarray: a 0-d array plus a 0-d array is a NumPy scalar, not an array
            x.data = numpy.asarray(original + eps * direction)
            plus = _flat_value(fn, inputs, weights)
            x.data = numpy.asarray(original - eps * direction)
            minus = _flat_value(fn, inputs, weights)
        finally:
            x.data = original
        return (plus - minus) / (2 * eps)

    for i, a in zip(diff, analytic):
        x = inputs[i]
        if random_directions:
            for _ in range(random_directions):
                d = rng.standard_normal(x.shape)
                num, ana = probe(i, d), float((a * d).sum())
                if abs(num - ana) > atol + rtol * abs(num):
                    return _fail(raise_exception, f"gradcheck: input {i} shape {x.shape}: "
                                 f"directional derivative {ana:.8g} (analytic) vs {num:.8g} "
                                 f"(numerical)")
            continue
        numerical = numpy.zeros(x.shape)
        for k in range(x.data.size):
            d = numpy.zeros(x.data.size)
            d[k] = 1.0
            numerical.flat[k] = probe(i, d.reshape(x.shape))
        if not numpy.allclose(a, numerical, atol=atol, rtol=rtol):
            worst = numpy.unravel_index(numpy.argmax(abs(a - numerical)), x.shape) \
                if x.ndim else ()
            return _fail(raise_exception, f"gradcheck: input {i} shape {x.shape}: analytic "
                         f"and numerical gradients differ, worst at {worst}: "
                         f"{a[worst]:.8g} vs {numerical[worst]:.8g}\nanalytic:\n{a}\n"
                         f"numerical:\n{numerical}")
    return True


def gradgradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  seed: int = 0, raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of the (create_graph) vector-Jacobian product."""
    inputs = tuple(inputs)
    _check_float64("gradgradcheck", inputs)
    rng = numpy.random.default_rng(seed + 1)
    outs = _outputs(fn, inputs)
    diff = _diff_inputs(inputs)
    cotangents = [Tensor(rng.standard_normal(o.shape)) for o in outs]

    def first_derivative(*xs):
        ys = _outputs(fn, xs)
        live = [(y, c) for y, c in zip(ys, cotangents) if y.requires_grad]
        grads = autograd_grad([y for y, _ in live], [xs[i] for i in diff],
                              [c for _, c in live], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                     raise_exception=raise_exception)


def _fail(raise_exception, message):
    if raise_exception:
        raise GradcheckError(message)
    return False
