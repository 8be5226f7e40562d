"""The optimization playground: toy problems against NumPy, trajectories, and the lecture's
two-weight facts (GD converges at lr 0.25, oscillates forever at 0.35, because the Hessian's
largest eigenvalue at the minimum is 5.84 and 2/5.84 lies between the two)."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
from nerve.optim import GD, Newton, problems


def at(*values):
    return nerve.tensor(values, dtype=nerve.float64)


@pytest.mark.parametrize("point", [(0.0, 0.0), (1.3, -0.7), (-2.0, 3.5)])
def test_problem_values_match_their_formulas(point):
    w1, w2 = point
    assert problems.quadratic(at(*point)).item() == pytest.approx(0.5 * (w1 ** 2 + 10 * w2 ** 2))
    assert problems.quadratic(at(*point), a=3.0).item() == pytest.approx(
        0.5 * (w1 ** 2 + 3 * w2 ** 2))
    assert problems.two_weight(at(*point)).item() == pytest.approx(
        (w1 * w2 - 1.5) ** 2 + 0.04 * (w1 ** 2 + w2 ** 2))
    assert problems.rosenbrock(at(*point)).item() == pytest.approx(
        (1 - w1) ** 2 + 100 * (w2 - w1 ** 2) ** 2)
    assert problems.rosenbrock(at(*point), a=2.0, b=5.0).item() == pytest.approx(
        (2 - w1) ** 2 + 5 * (w2 - w1 ** 2) ** 2)


def test_known_minima_have_zero_gradient():
    m = problems.TWO_WEIGHT_MINIMUM
    assert m == pytest.approx(np.sqrt(1.46))
    for f, x in [(problems.two_weight, (m, m)), (problems.two_weight, (-m, -m)),
                 (problems.rosenbrock, problems.ROSENBROCK_MINIMUM),
                 (problems.quadratic, problems.QUADRATIC_MINIMUM)]:
        grad = nerve.func.grad(f)(at(*x))
        np.testing.assert_allclose(grad.numpy(), 0.0, atol=1e-12)


def test_two_weight_hessian_at_the_minimum_has_largest_eigenvalue_584():
    m = problems.TWO_WEIGHT_MINIMUM
    H = nerve.func.hessian(problems.two_weight)(at(m, m)).numpy()
    np.testing.assert_allclose(H, [[3.0, 2.84], [2.84, 3.0]], atol=1e-12)
    eig = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(eig, [0.16, 5.84], atol=1e-12)
    assert 0.25 < 2 / eig.max() < 0.35  # the stability limit of GD lies between the two


def test_quadratic_form_value_and_minimum():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    f = problems.quadratic_form(A, b)
    x = np.array([0.4, -2.0])
    assert f(at(*x)).item() == pytest.approx(0.5 * x @ A @ x - b @ x)
    grad = nerve.func.grad(f)(at(*np.linalg.solve(A, b)))
    np.testing.assert_allclose(grad.numpy(), 0.0, atol=1e-12)
    assert problems.quadratic_form(A)(at(*x)).item() == pytest.approx(0.5 * x @ A @ x)
    with pytest.raises(ValueError, match="square"):
        problems.quadratic_form(np.ones((2, 3)))
    with pytest.raises(ValueError, match="b must have shape"):
        problems.quadratic_form(A, np.ones(3))


def test_trajectory_records_start_every_iterate_and_losses():
    path = problems.trajectory(lambda p: GD(p, lr=0.1), problems.quadratic, (1.0, 1.0), 3)
    expected = [np.array([1.0, 1.0])]
    for _ in range(3):  # x <- x - 0.1 (x1, 10 x2)
        expected.append(expected[-1] - 0.1 * expected[-1] * [1.0, 10.0])
    np.testing.assert_allclose(path.points, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(path.losses, [0.5 * (p[0] ** 2 + 10 * p[1] ** 2)
                                             for p in expected], rtol=1e-15)
    assert path.points.dtype == np.float64 and path.losses.shape == (4,)
    still = problems.trajectory(lambda p: GD(p, lr=0.1), problems.rosenbrock, (0.5, 0.5), 0)
    np.testing.assert_array_equal(still.points, [[0.5, 0.5]])
    with pytest.raises(ValueError, match="steps"):
        problems.trajectory(lambda p: GD(p, lr=0.1), problems.rosenbrock, (0.5, 0.5), -1)


def test_trajectory_drives_newton_in_one_step_to_the_quadratic_minimum():
    path = problems.trajectory(lambda p: Newton(p), problems.quadratic, (3.0, -2.0), 2)
    np.testing.assert_allclose(path.points[1:], 0.0, atol=1e-15)
    assert path.losses[1] == 0.0


def test_contour_grid_evaluates_the_problem_on_a_mesh():
    X, Y, Z = problems.contour_grid(problems.rosenbrock, (-2.0, 2.0), (-1.0, 3.0), n=21)
    assert X.shape == Y.shape == Z.shape == (21, 21)
    np.testing.assert_allclose(Z, (1 - X) ** 2 + 100 * (Y - X ** 2) ** 2, rtol=1e-12)
    assert X[0, 0] == -2.0 and Y[-1, 0] == 3.0


STARTS = [(0.5, 2.0), (1.0, 1.0), (2.0, 0.5), (0.3, 0.1), (1.5, 1.4)]


@pytest.mark.parametrize("start", STARTS)
def test_gd_with_lr_025_converges_to_sqrt_146(start):
    path = problems.trajectory(lambda p: GD(p, lr=0.25), problems.two_weight, start, 500)
    m = problems.TWO_WEIGHT_MINIMUM
    np.testing.assert_allclose(path.points[-1], [m, m], atol=1e-6)
    assert path.losses[-1] == pytest.approx(0.1184, abs=1e-12)  # (1.46-1.5)^2 + 0.08*1.46


@pytest.mark.parametrize("start", STARTS)
def test_gd_with_lr_035_ends_in_an_oscillation_with_sign_flipping_updates(start):
    path = problems.trajectory(lambda p: GD(p, lr=0.35), problems.two_weight, start, 500)
    m = problems.TWO_WEIGHT_MINIMUM
    tail = path.points[-100:]
    updates = np.diff(tail, axis=0)
    assert np.all(updates[1:] * updates[:-1] < 0)  # each coordinate's update flips sign
    assert np.abs(updates).min() > 0.1  # and does not shrink: no convergence
    assert np.abs(tail - m).min() > 0.05  # never near the minimum
    np.testing.assert_allclose(tail[2:], tail[:-2], atol=1e-9)  # a period-2 cycle
    assert np.isfinite(path.losses).all() and path.losses[-100:].min() > 0.1184 + 0.03
