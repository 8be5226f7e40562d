"""The lecture's worked examples: autograd vs staged backprop by hand vs finite differences."""
import io
import math

import numpy as np
import pytest

import nerve
from nerve import demo


def test_mean_of_squares_exactly_as_in_the_lecture():
    x = nerve.ones(2, 2, requires_grad=True)  # default dtype, as written in the lecture
    y = x + 2
    z = y * y * 3
    out = z.mean()
    out.backward()
    assert out.item() == 27.0
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 4.5, dtype=np.float32))


def test_add_mul_circuit_numbers():
    ex = demo.add_mul_circuit()
    assert ex.value == -12.0
    assert [float(ex.row(n).autograd) for n in ("df/dx", "df/dy", "df/dz")] == [-4.0, -4.0, 3.0]


def test_sigmoid_neuron_numbers():
    ex = demo.sigmoid_neuron()
    assert ex.value == pytest.approx(1 / (1 + math.exp(-1.0)))
    np.testing.assert_allclose(ex.row("df/dx").autograd, [0.393, -0.590], atol=1e-3)
    np.testing.assert_allclose(ex.row("df/dw").autograd, [-0.197, -0.393, 0.197], atol=1e-3)
    s = 1 / (1 + math.exp(-1.0))
    np.testing.assert_allclose(ex.row("df/dw").autograd, np.array([-1, -2, 1]) * s * (1 - s),
                               rtol=1e-12)


def test_staged_backprop_numbers_match_torch_when_available():
    ex = demo.staged_backprop()
    assert ex.value == pytest.approx(1.545645, abs=1e-6)
    assert float(ex.row("df/dx").autograd) == pytest.approx(2.05957, abs=1e-5)
    assert float(ex.row("df/dy").autograd) == pytest.approx(1.59223, abs=1e-5)
    torch = pytest.importorskip("torch")
    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(-4.0, dtype=torch.float64, requires_grad=True)
    ((x + y.sigmoid()) / (x.sigmoid() + (x + y) ** 2)).backward()
    assert float(ex.row("df/dx").autograd) == pytest.approx(x.grad.item(), rel=1e-12)
    assert float(ex.row("df/dy").autograd) == pytest.approx(y.grad.item(), rel=1e-12)


@pytest.mark.parametrize("x0", [-1.0, 0.0, 0.5])
def test_exp_sin_first_and_second_derivative(x0):
    ex = demo.exp_sin_derivatives(x0)
    u = math.exp(x0)
    s = u + u * u
    assert ex.value == pytest.approx(math.exp(s) + math.sin(s), rel=1e-12)
    d1, d2 = float(ex.row("f'(x)").autograd), float(ex.row("f''(x)").autograd)
    assert d1 == pytest.approx((math.exp(s) + math.cos(s)) * (u + 2 * u * u), rel=1e-12)
    assert d2 == pytest.approx((math.exp(s) - math.sin(s)) * (u + 2 * u * u) ** 2
                               + (math.exp(s) + math.cos(s)) * (u + 4 * u * u), rel=1e-12)
    if x0 == 0.0:
        assert (round(d1, 4), round(d2, 4)) == (20.9187, 93.1824)


@pytest.mark.parametrize("a", [10.0, 3.0, 0.5])
def test_newton_step_lands_on_the_minimum(a):
    ex = demo.newton_step(a)
    np.testing.assert_allclose(ex.row("hessian f").autograd, np.diag([1.0, a]), atol=1e-12)
    np.testing.assert_allclose(ex.row("grad f").autograd, [1.0, a])
    np.testing.assert_allclose(ex.row("x - H^-1 grad").autograd, [0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("make", demo.EXAMPLES, ids=lambda f: f.__name__)
def test_autograd_agrees_with_hand_and_finite_differences(make):
    ex = make()
    assert ex.rows
    for row in ex.rows:
        assert row.by_hand is not None, row.name
        np.testing.assert_allclose(row.autograd, row.by_hand, rtol=1e-10, atol=1e-12,
                                   err_msg=f"{ex.title}: {row.name} autograd vs by hand")
        if row.numeric is not None:
            np.testing.assert_allclose(row.autograd, row.numeric, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{ex.title}: {row.name} vs finite differences")


def test_hand_derivation_is_not_trivially_autograd():
    # Perturb an input: the staged numbers must move with it (they are computed, not copied).
    a, b = demo.staged_backprop(3.0, -4.0), demo.staged_backprop(2.0, -1.0)
    assert float(a.row("df/dx").by_hand) != pytest.approx(float(b.row("df/dx").by_hand))
    np.testing.assert_allclose(b.row("df/dx").by_hand, b.row("df/dx").numeric, rtol=1e-6)


def test_run_prints_every_example():
    out = io.StringIO()
    results = demo.run(file=out)
    text = out.getvalue()
    assert len(results) == len(demo.EXAMPLES)
    for i, ex in enumerate(results, 1):
        assert f"{i}. {ex.title}" in text
    for number in ("4.5", "-4", "0.393224", "-0.196612", "2.05957", "1.59223", "20.9187",
                   "93.1824", "[[ 1., 0.], [ 0., 10.]]"):
        assert number in text
