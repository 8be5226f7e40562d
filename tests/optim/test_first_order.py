"""First-order optimizers against their published formulas (written out in NumPy, float64),
state-dict round trips, the Optimizer base's bookkeeping and construction-time errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
from nerve.optim import SGD, Adadelta, Adagrad, Adam, AdamW, NAdam, Optimizer, RMSprop

# ---- the formulas, as a textbook writes them: one function per algorithm, n steps --------
# Each takes the initial parameter, the gradient sequence and the hyperparameters, and
# returns the parameter after every step.


def ref_sgd(theta, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    out, b = [], None
    for g in grads:
        g = (-g if maximize else g) + weight_decay * theta
        if momentum:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        out.append(theta)
    return out


def ref_adagrad(theta, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10):
    out, G = [], np.full_like(theta, initial_accumulator_value)
    for t, g in enumerate(grads, 1):
        g = g + weight_decay * theta
        G = G + g ** 2
        theta = theta - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(G) + eps)
        out.append(theta)
    return out


def ref_rmsprop(theta, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False):
    out, v, gbar, b = [], 0 * theta, 0 * theta, 0 * theta
    for g in grads:
        g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g ** 2
        gbar = alpha * gbar + (1 - alpha) * g
        scale = np.sqrt(v - gbar ** 2 if centered else v) + eps
        if momentum:
            b = momentum * b + g / scale
            theta = theta - lr * b
        else:
            theta = theta - lr * g / scale
        out.append(theta)
    return out


def ref_adadelta(theta, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    out, Eg2, Edx2 = [], 0 * theta, 0 * theta
    for g in grads:
        g = g + weight_decay * theta
        Eg2 = rho * Eg2 + (1 - rho) * g ** 2
        dx = np.sqrt(Edx2 + eps) / np.sqrt(Eg2 + eps) * g
        Edx2 = rho * Edx2 + (1 - rho) * dx ** 2
        theta = theta - lr * dx
        out.append(theta)
    return out


def ref_adam(theta, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             decoupled=False):
    b1, b2 = betas
    out, m, v, vmax = [], 0 * theta, 0 * theta, 0 * theta
    for t, g in enumerate(grads, 1):
        if decoupled:
            theta = theta - lr * weight_decay * theta
        else:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (vmax if amsgrad else v) / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def ref_nadam(theta, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              momentum_decay=4e-3, decoupled_weight_decay=False):
    b1, b2 = betas
    out, m, v, prod = [], 0 * theta, 0 * theta, 1.0
    for t, g in enumerate(grads, 1):
        if decoupled_weight_decay:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        prod *= mu_t
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        denom = np.sqrt(v / (1 - b2 ** t)) + eps
        theta = (theta - lr * (1 - mu_t) / (1 - prod) * g / denom
                 - lr * mu_next / (1 - prod * mu_next) * m / denom)
        out.append(theta)
    return out


# (optimizer, its keyword arguments, the reference, the reference's keyword arguments)
CASES = {
    "sgd": (SGD, dict(lr=0.1), ref_sgd, dict(lr=0.1)),
    "sgd-momentum": (SGD, dict(lr=0.1, momentum=0.9), ref_sgd, dict(lr=0.1, momentum=0.9)),
    "sgd-dampening-wd": (SGD, dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.2),
                         ref_sgd, dict(lr=0.1, momentum=0.8, dampening=0.3, weight_decay=0.2)),
    "sgd-nesterov": (SGD, dict(lr=0.1, momentum=0.9, nesterov=True), ref_sgd,
                     dict(lr=0.1, momentum=0.9, nesterov=True)),
    "sgd-maximize": (SGD, dict(lr=0.1, momentum=0.5, maximize=True), ref_sgd,
                     dict(lr=0.1, momentum=0.5, maximize=True)),
    "adagrad": (Adagrad, dict(lr=0.3), ref_adagrad, dict(lr=0.3)),
    "adagrad-options": (Adagrad, dict(lr=0.3, lr_decay=0.1, weight_decay=0.2,
                                      initial_accumulator_value=0.5), ref_adagrad,
                        dict(lr=0.3, lr_decay=0.1, weight_decay=0.2,
                             initial_accumulator_value=0.5)),
    "rmsprop": (RMSprop, dict(lr=0.01, alpha=0.9), ref_rmsprop, dict(lr=0.01, alpha=0.9)),
    "rmsprop-centered-momentum": (
        RMSprop, dict(lr=0.01, alpha=0.9, centered=True, momentum=0.8, weight_decay=0.1),
        ref_rmsprop, dict(lr=0.01, alpha=0.9, centered=True, momentum=0.8, weight_decay=0.1)),
    "adadelta": (Adadelta, dict(), ref_adadelta, dict()),
    "adadelta-options": (Adadelta, dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1),
                         ref_adadelta, dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1)),
    "adam": (Adam, dict(lr=0.1), ref_adam, dict(lr=0.1)),
    "adam-l2-amsgrad": (Adam, dict(lr=0.1, weight_decay=0.3, amsgrad=True), ref_adam,
                        dict(lr=0.1, weight_decay=0.3, amsgrad=True)),
    "adamw": (AdamW, dict(lr=0.1, weight_decay=0.3, betas=(0.8, 0.9)), ref_adam,
              dict(lr=0.1, weight_decay=0.3, betas=(0.8, 0.9), decoupled=True)),
    "adamw-amsgrad": (AdamW, dict(lr=0.1, amsgrad=True), ref_adam,
                      dict(lr=0.1, weight_decay=1e-2, amsgrad=True, decoupled=True)),
    "nadam": (NAdam, dict(lr=0.1), ref_nadam, dict(lr=0.1)),
    "nadam-decoupled": (NAdam, dict(lr=0.1, weight_decay=0.2, decoupled_weight_decay=True),
                        ref_nadam, dict(lr=0.1, weight_decay=0.2, decoupled_weight_decay=True)),
}


def grad_sequence(n, shape=(2, 3), seed=0):
    """Fixed gradients with a decreasing second moment, so AMSGrad's max differs from v."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * (3.0 if k == 0 else 1.0) for k in range(n)]


@pytest.mark.parametrize("name", list(CASES))
def test_steps_follow_the_formula(name):
    opt_cls, kwargs, ref, ref_kwargs = CASES[name]
    theta0 = np.random.default_rng(1).standard_normal((2, 3))
    grads = grad_sequence(4)
    p = nerve.tensor(theta0.copy(), requires_grad=True)
    opt = opt_cls([p], **kwargs)
    expected = ref(theta0, grads, **ref_kwargs)
    for g, want in zip(grads, expected):
        p.grad = nerve.tensor(g)
        opt.step()
        assert p.dtype == nerve.float64
        np.testing.assert_allclose(p.data, want, rtol=1e-12, atol=1e-14)


def test_sgd_one_step_by_hand():
    p = nerve.tensor([1.0, -2.0], dtype=nerve.float64, requires_grad=True)
    opt = SGD([p], lr=0.5, momentum=0.9, weight_decay=0.1, nesterov=True)
    p.grad = nerve.tensor([0.2, 0.4])
    opt.step()
    # g = ∇ + 0.1 θ = (0.3, 0.2); buffer = g; step along g + 0.9 g = 1.9 g
    np.testing.assert_allclose(p.data, [1.0 - 0.5 * 1.9 * 0.3, -2.0 - 0.5 * 1.9 * 0.2])


def test_adam_one_step_by_hand():
    p = nerve.tensor([1.0, -2.0], dtype=nerve.float64, requires_grad=True)
    opt = Adam([p], lr=0.01, eps=0.0)
    p.grad = nerve.tensor([0.2, -4.0], dtype=nerve.float64)
    opt.step()
    # bias-corrected first step: m̂ = g, v̂ = g², so θ moves by lr·sign(g)
    np.testing.assert_allclose(p.data, [0.99, -1.99], rtol=1e-14)


@pytest.mark.parametrize("name", ["sgd-momentum", "adam", "rmsprop-centered-momentum"])
def test_float32_parameters_stay_float32(name):
    opt_cls, kwargs, ref, ref_kwargs = CASES[name]
    theta0 = np.random.default_rng(2).standard_normal((2, 3))
    grads = grad_sequence(3)
    p = nerve.tensor(theta0.astype(np.float32), requires_grad=True)
    opt = opt_cls([p], **kwargs)
    for g in grads:
        p.grad = nerve.tensor(g.astype(np.float32))
        opt.step()
    assert p.dtype == nerve.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if hasattr(v, "dtype"))
    np.testing.assert_allclose(p.data, ref(theta0, grads, **ref_kwargs)[-1], rtol=1e-5,
                               atol=1e-6)


def test_scalar_parameter_keeps_an_array():
    p = nerve.tensor(2.0, requires_grad=True)
    opt = Adam([p], lr=0.1)
    (p * p).backward()
    opt.step()
    assert p.shape == () and isinstance(p.data, np.ndarray)
    assert p.item() == pytest.approx(1.9)


# ---- the Optimizer base ------------------------------------------------------------------

def least_squares(params, seed=0):
    """A small smooth problem of two parameter tensors: mean((tanh(X W) v - y)²)."""
    rng = np.random.default_rng(seed)
    X, y = nerve.tensor(rng.standard_normal((6, 3))), nerve.tensor(rng.standard_normal((6, 1)))
    W, v = params
    return ((nerve.tanh(X @ W) @ v - y) ** 2).mean()


def fresh_params(seed=3):
    rng = np.random.default_rng(seed)
    return [nerve.tensor(rng.standard_normal((3, 4)), requires_grad=True),
            nerve.tensor(rng.standard_normal((4, 1)), requires_grad=True)]


def run(opt, params, steps):
    for _ in range(steps):
        opt.zero_grad()
        least_squares(params).backward()
        opt.step()


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip_continues_bit_identically(name):
    opt_cls, kwargs, _, _ = CASES[name]
    straight = fresh_params()
    opt = opt_cls(straight, **kwargs)
    run(opt, straight, 9)

    first = fresh_params()
    opt1 = opt_cls(first, **kwargs)
    run(opt1, first, 4)
    saved = opt1.state_dict()
    snapshot = [p.data.copy() for p in first]
    run(opt1, first, 1)  # in-place updates of the live state must not reach the saved copy
    resumed = [nerve.tensor(a, requires_grad=True) for a in snapshot]
    opt2 = opt_cls(resumed, **kwargs)
    opt2.load_state_dict(saved)
    run(opt2, resumed, 5)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_survives_save_and_load(tmp_path):
    params = fresh_params()
    opt = Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.01}], lr=0.1,
               amsgrad=True)
    run(opt, params, 3)
    nerve.save(opt.state_dict(), tmp_path / "opt.nrv")
    copy = [nerve.tensor(p.data.copy(), requires_grad=True) for p in params]
    opt2 = Adam([{"params": copy[:1]}, {"params": copy[1:]}], lr=0.5)
    opt2.load_state_dict(nerve.load(tmp_path / "opt.nrv"))
    assert [g["lr"] for g in opt2.param_groups] == [0.1, 0.01]  # saved hyperparameters win
    run(opt, params, 3)
    run(opt2, copy, 3)
    for a, b in zip(copy, params):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_checks_the_layout():
    params = fresh_params()
    opt = SGD(params, lr=0.1, momentum=0.9)
    run(opt, params, 1)
    with pytest.raises(ValueError, match="parameter groups"):
        SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(
            opt.state_dict())
    with pytest.raises(ValueError, match="group 0 has 2 parameters"):
        SGD(params[:1], lr=0.1).load_state_dict(opt.state_dict())


def test_parameters_without_grad_are_skipped():
    a, b = fresh_params()
    opt = Adam([a, b], lr=0.1)
    before = b.data.copy()
    a.grad = nerve.ones_like(a)
    opt.step()
    np.testing.assert_array_equal(b.data, before)
    assert b not in opt.state and opt.state[a]["step"] == 1


def test_param_groups_have_their_own_hyperparameters():
    a, b = nerve.tensor([1.0], requires_grad=True), nerve.tensor([1.0], requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = nerve.tensor([1.0]), nerve.tensor([1.0])
    opt.step()
    assert (a.item(), b.item()) == (pytest.approx(0.9), pytest.approx(0.5))
    c = nerve.tensor([1.0], requires_grad=True)
    opt.add_param_group({"params": c, "momentum": 0.5})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.5


def test_zero_grad():
    a, b = fresh_params()
    opt = SGD([a, b], lr=0.1)
    least_squares([a, b]).backward()
    opt.zero_grad(set_to_none=False)
    assert np.all(a.grad.data == 0) and a.grad.shape == a.shape
    a.grad = nerve.tensor(np.full(a.shape, np.inf))
    opt.zero_grad(set_to_none=False)
    assert np.all(a.grad.data == 0)  # not inf * 0
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_with_closure_returns_the_loss():
    params = fresh_params()
    opt = SGD(params, lr=0.1)

    def closure():
        opt.zero_grad()
        loss = least_squares(params)
        loss.backward()
        return loss

    with nerve.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(least_squares(fresh_params()).item())


def test_nn_parameters_and_repr():
    w = nerve.nn.Parameter(nerve.ones(2))
    opt = SGD([w], lr=0.1, momentum=0.9)
    w.grad = nerve.ones(2)
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, 0.9])
    assert "momentum: 0.9" in repr(opt) and repr(opt).startswith("SGD (")


def test_gradient_of_the_wrong_shape():
    p = nerve.tensor([1.0, 2.0], requires_grad=True)
    p.grad = nerve.tensor([1.0])
    with pytest.raises(ValueError, match=r"shape \(2,\) has a gradient of shape \(1,\)"):
        SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(p.data, [1.0, 2.0])


def test_base_needs_an_update_rule():
    p = nerve.tensor([1.0], requires_grad=True)
    p.grad = nerve.tensor([1.0])
    with pytest.raises(NotImplementedError):
        Optimizer([p], {}).step()


# ---- errors at construction --------------------------------------------------------------

def _p():
    return nerve.tensor([1.0], requires_grad=True)


BAD = [
    (lambda: SGD([_p()], lr=-0.1), ValueError, "invalid lr -0.1"),
    (lambda: SGD([_p()], lr=float("nan")), ValueError, "invalid lr"),
    (lambda: SGD([_p()], lr="0.1"), TypeError, "lr must be a real number"),
    (lambda: SGD([_p()], lr=0.1, momentum=1.0), ValueError, r"momentum 1.0.*\[0.0, 1.0\)"),
    (lambda: SGD([_p()], lr=0.1, momentum=-0.5), ValueError, "invalid momentum"),
    (lambda: SGD([_p()], lr=0.1, weight_decay=-1), ValueError, "invalid weight_decay"),
    (lambda: SGD([_p()], lr=0.1, nesterov=True), ValueError, "Nesterov momentum requires"),
    (lambda: SGD([_p()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening = 0"),
    (lambda: RMSprop([_p()], momentum=1.5), ValueError, "invalid momentum"),
    (lambda: RMSprop([_p()], alpha=1.5), ValueError, "invalid alpha"),
    (lambda: Adagrad([_p()], eps=-1e-10), ValueError, "invalid eps"),
    (lambda: Adagrad([_p()], lr_decay=-1), ValueError, "invalid lr_decay"),
    (lambda: Adadelta([_p()], rho=1.1), ValueError, "invalid rho"),
    (lambda: Adam([_p()], betas=(1.0, 0.999)), ValueError, "invalid beta1"),
    (lambda: Adam([_p()], betas=(0.9, -0.1)), ValueError, "invalid beta2"),
    (lambda: Adam([_p()], betas=(0.9,)), ValueError, "betas must be a pair"),
    (lambda: AdamW([_p()], eps=-1.0), ValueError, "AdamW: invalid eps"),
    (lambda: NAdam([_p()], lr=-1.0), ValueError, "NAdam: invalid lr"),
    (lambda: Adam([], lr=0.1), ValueError, "empty parameter list"),
    (lambda: Adam(iter([]), lr=0.1), ValueError, "empty parameter list"),
    (lambda: SGD([np.zeros(2)], lr=0.1), TypeError, "parameter 0 is a ndarray, not a Tensor"),
    (lambda: SGD([_p(), 3.0], lr=0.1), TypeError, "parameter 1 is a float"),
    (lambda: SGD(_p(), lr=0.1), TypeError, "single Tensor"),
    (lambda: SGD({_p()}, lr=0.1), TypeError, "not a set"),
    (lambda: SGD([_p() * 2], lr=0.1), ValueError, "not a leaf"),
    (lambda: SGD([{"lr": 0.1}], lr=0.1), ValueError, "'params'"),
    (lambda: SGD([{"params": [_p()], "lr": -1.0}], lr=0.1), ValueError, "invalid lr -1.0"),
]


@pytest.mark.parametrize("make, error, match", BAD)
def test_bad_input_fails_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_parameter_in_two_places():
    p = _p()
    with pytest.raises(ValueError, match="same parameter twice"):
        SGD([p, p], lr=0.1)
    opt = SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(ValueError, match="invalid momentum"):
        opt.add_param_group({"params": [_p()], "momentum": 2.0})
    assert len(opt.param_groups) == 1


def test_decoupled_decay_scales_with_the_learning_rate():
    """AdamW's decay is lr·wd·θ per step, the same fraction whatever the gradient."""
    for lr in (0.1, 0.01):
        p = nerve.tensor([4.0], dtype=nerve.float64, requires_grad=True)
        p.grad = nerve.tensor([0.0])
        AdamW([p], lr=lr, weight_decay=0.5).step()
        assert p.item() == pytest.approx(4.0 * (1 - lr * 0.5), rel=1e-14)
    assert math.isclose(AdamW([_p()]).defaults["weight_decay"], 1e-2)
