"""Learning-rate schedules: values over steps against their closed forms and against
torch.optim.lr_scheduler (skipped without torch), chaining, weight-decay schedules, state
dicts and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nerve
from nerve.optim import SGD, Adam
from nerve.optim import lr_scheduler as sched

LR0 = 0.5


def make_opt(lib=None, lrs=(LR0,), cls="SGD", **kwargs):
    """An optimizer with one parameter group per entry of ``lrs`` (nerve, or torch)."""
    if lib is None:
        make, mod = nerve.zeros, nerve.optim
    else:
        make, mod = lib.zeros, lib.optim
    groups = [{"params": [make(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return getattr(mod, cls)(groups, lr=lrs[0], **kwargs)


def values(s, steps, keys=("lr",)):
    """The values of every group after construction and after each of ``steps`` steps."""
    def read():
        return [[g[k] for k in keys] for g in s.optimizer.param_groups]

    out = [read()]
    for _ in range(steps):
        s.step()
        out.append(read())
    return np.array(out).squeeze(-1) if len(keys) == 1 else np.array(out)


T = np.arange(31)
CLOSED_FORMS = {
    "step": (lambda o: sched.StepLR(o, step_size=7, gamma=0.3), LR0 * 0.3 ** (T // 7)),
    "multistep": (lambda o: sched.MultiStepLR(o, milestones=[12, 3, 12], gamma=0.5),
                  LR0 * 0.5 ** ((T >= 3) + 2 * (T >= 12))),
    "exponential": (lambda o: sched.ExponentialLR(o, gamma=0.9), LR0 * 0.9 ** T),
    "inverse-time": (lambda o: sched.InverseTimeLR(o, decay_steps=4), LR0 * 4 / (4 + T)),
    "linear-to-zero": (lambda o: sched.LinearLR(o, 1.0, 0.0, total_iters=20),
                       LR0 * np.maximum(20 - T, 0) / 20),
    "linear": (lambda o: sched.LinearLR(o, 0.25, 0.75, total_iters=10),
               LR0 * (0.25 + 0.5 * np.minimum(T, 10) / 10)),
    "constant": (lambda o: sched.ConstantLR(o, factor=0.5, total_iters=4),
                 LR0 * np.where(T < 4, 0.5, 1.0)),
    "polynomial": (lambda o: sched.PolynomialLR(o, total_iters=25, power=2.0),
                   LR0 * (1 - np.minimum(T, 25) / 25) ** 2),
    "cosine-floor": (lambda o: sched.CosineAnnealingLR(o, T_max=30, eta_min=0.1 * LR0),
                     0.1 * LR0 + 0.9 * LR0 * (1 + np.cos(np.pi * T / 30)) / 2),
    "warmup": (lambda o: sched.LinearWarmup(o, warmup_steps=8), LR0 * np.minimum(1, T / 8)),
    "lambda": (lambda o: sched.LambdaLR(o, lambda t: 1 / (1 + t) ** 0.5), LR0 / np.sqrt(1 + T)),
}


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
def test_values_follow_the_closed_form(name):
    make, expected = CLOSED_FORMS[name]
    s = make(make_opt())
    got = values(s, 30)[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert s.get_last_lr() == [got[-1]] and s.last_epoch == 30


def test_each_group_is_scheduled_from_its_own_value():
    opt = make_opt(lrs=(1.0, 0.1))
    s = sched.CosineAnnealingLR(opt, T_max=10)
    got = values(s, 10)
    np.testing.assert_allclose(got[:, 1], 0.1 * got[:, 0], rtol=1e-12, atol=1e-17)
    opt = make_opt(lrs=(1.0, 0.1))
    s = sched.LambdaLR(opt, [lambda t: 0.5 ** t, lambda t: 1.0 + t])
    np.testing.assert_allclose(values(s, 3), [[1, 0.1], [0.5, 0.2], [0.25, 0.3], [0.125, 0.4]])


def test_warmup_then_cosine_is_continuous():
    K, T_max = 10, 40
    opt = make_opt()
    s = sched.SequentialLR(opt, [sched.LinearWarmup(opt, K),
                                 sched.CosineAnnealingLR(opt, T_max=T_max, eta_min=0.1 * LR0)],
                           milestones=[K])
    got = values(s, K + T_max)[:, 0]
    t = np.arange(K + T_max + 1)
    want = np.where(t < K, LR0 * t / K,
                    0.1 * LR0 + 0.9 * LR0 * (1 + np.cos(np.pi * (t - K) / T_max)) / 2)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert got[K] == pytest.approx(LR0)  # the warm-up ends where the cosine starts
    jumps = np.abs(np.diff(got))
    assert jumps.max() <= LR0 / K + 1e-12  # no step larger than a warm-up step
    assert np.all(np.diff(got[:K + 1]) > 0) and np.all(np.diff(got[K:]) < 0)


def test_chained_factors_multiply():
    opt = make_opt()
    s = sched.ChainedScheduler([sched.ConstantLR(opt, factor=0.1, total_iters=3),
                                sched.ExponentialLR(opt, gamma=0.9)])
    t = np.arange(11)
    np.testing.assert_allclose(values(s, 10)[:, 0], LR0 * np.where(t < 3, 0.1, 1) * 0.9 ** t,
                               rtol=1e-12)


def test_schedules_drive_weight_decay():
    """A second scheduler with param_name="weight_decay" decays μ_t with the learning rate, and
    the optimizer's step uses the scheduled value."""
    p = nerve.tensor([2.0], dtype=nerve.float64, requires_grad=True)
    opt = SGD([p], lr=0.1, weight_decay=0.01)
    lr_s = sched.CosineAnnealingLR(opt, T_max=10)
    wd_s = sched.CosineAnnealingLR(opt, T_max=10, param_name="weight_decay")
    for t in range(1, 6):
        lr_s.step()
        wd_s.step()
        factor = (1 + math.cos(math.pi * t / 10)) / 2
        group = opt.param_groups[0]
        assert group["lr"] == pytest.approx(0.1 * factor)
        assert group["weight_decay"] == pytest.approx(0.01 * factor)
        assert wd_s.get_last_lr() == [group["weight_decay"]]
    assert group["initial_weight_decay"] == 0.01 and group["initial_lr"] == 0.1
    before = p.item()
    p.grad = nerve.zeros_like(p)
    opt.step()  # only the decay moves it: θ ← θ - lr_t μ_t θ
    assert p.item() == pytest.approx(before * (1 - group["lr"] * group["weight_decay"]))


def test_reduce_on_plateau():
    opt = make_opt(lrs=(1.0, 0.02))
    s = sched.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=[0.0, 0.01])
    losses = [5, 4, 4, 4, 4, 4, 4, 4, 3.9999, 3, 3, 3, 3]
    lrs = []
    for loss in losses:
        s.step(loss)
        lrs.append(s.get_last_lr())
    # 3 bad steps (> patience) halve; the cooldown step does not count, then 3 more bad
    # steps halve again (3.9999 is within the relative threshold of 4: no improvement);
    # 3 improves, and 3 more bad steps halve a third time
    assert [a for a, _ in lrs] == [1, 1, 1, 1, .5, .5, .5, .5, .25, .25, .25, .25, .125]
    assert lrs[4][1] == 0.01 and lrs[-1][1] == 0.01  # clamped at min_lr
    s = sched.ReduceLROnPlateau(make_opt(), mode="max", threshold=0.1, threshold_mode="abs",
                                patience=0)
    s.step(1.0)
    s.step(1.05)  # not better by more than 0.1
    assert s.get_last_lr() == [pytest.approx(LR0 * 0.1)]


def test_one_cycle_shape():
    opt = make_opt(cls="Adam")
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.25)
    lrs, beta1 = [], []
    for _ in range(99):
        lrs.append(s.get_last_lr()[0])
        beta1.append(opt.param_groups[0]["betas"][0])
        s.step()
    assert lrs[0] == pytest.approx(1 / 25) and max(lrs) == pytest.approx(1.0)
    assert int(np.argmax(lrs)) == 24 and s.get_last_lr()[0] == pytest.approx(1 / 25 / 1e4)
    assert beta1[0] == pytest.approx(0.95) and beta1[24] == pytest.approx(0.85)
    s.step()
    with pytest.raises(ValueError, match="past total_steps"):
        s.step()


@pytest.mark.parametrize("make", [
    lambda o: sched.StepLR(o, 3, 0.5),
    lambda o: sched.SequentialLR(o, [sched.LinearWarmup(o, 3), sched.ExponentialLR(o, 0.8)],
                                 milestones=[3]),
    lambda o: sched.ChainedScheduler([sched.StepLR(o, 2), sched.LinearLR(o, 0.5)]),
    lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=20),
], ids=["step", "sequential", "chained", "one-cycle"])
def test_state_dict_resumes_on_the_same_curve(make):
    straight = make(make_opt(momentum=0.9))
    want = values(straight, 12)
    opt = make_opt(momentum=0.9)
    first = make(opt)
    values(first, 5)
    saved, opt_saved = first.state_dict(), opt.state_dict()
    opt2 = make_opt(momentum=0.9)
    resumed = make(opt2)
    opt2.load_state_dict(opt_saved)
    resumed.load_state_dict(saved)
    np.testing.assert_array_equal(values(resumed, 7)[1:], want[6:])


def test_plateau_state_dict():
    s = sched.ReduceLROnPlateau(make_opt(), patience=1)
    for loss in (3, 2, 2):
        s.step(loss)
    s2 = sched.ReduceLROnPlateau(make_opt(), patience=1)
    s2.load_state_dict(s.state_dict())
    assert (s2.best, s2.num_bad_epochs, s2.last_epoch) == (2, 1, 3)
    assert "optimizer" not in s.state_dict()


def test_resume_with_last_epoch():
    opt = make_opt()
    sched.ExponentialLR(opt, gamma=0.5)  # records initial_lr
    s = sched.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert s.get_last_lr() == [LR0 * 0.5 ** 4]
    with pytest.raises(KeyError, match="initial_lr"):
        sched.ExponentialLR(make_opt(), gamma=0.5, last_epoch=3)


@pytest.mark.parametrize("make, error, match", [
    (lambda o: sched.StepLR(object(), 3), TypeError, "expected an Optimizer"),
    (lambda o: sched.StepLR(o, 0), ValueError, "step_size must be a positive integer"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: sched.LinearLR(o, start_factor=1.5), ValueError, "start_factor"),
    (lambda o: sched.InverseTimeLR(o, decay_steps=0), ValueError, "decay_steps"),
    (lambda o: sched.LambdaLR(o, [lambda t: 1, lambda t: 1]), ValueError, "one per group"),
    (lambda o: sched.StepLR(o, 3, param_name="nope"), ValueError, "no 'nope'"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 3), sched.StepLR(o, 2)], milestones=[]),
     ValueError, "need 1 milestones"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(make_opt(), 3)], milestones=[]),
     ValueError, "different optimizer"),
    (lambda o: sched.ChainedScheduler([sched.ReduceLROnPlateau(o)]), TypeError,
     "not a closed-form"),
    (lambda o: sched.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: sched.ReduceLROnPlateau(o, mode="up"), ValueError, "mode"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps"),
    (lambda o: sched.OneCycleLR(Adam([nerve.zeros(1, requires_grad=True)]), 1.0, 10,
                                anneal_strategy="exp"), ValueError, "anneal_strategy"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make(make_opt())


# ---- against torch -----------------------------------------------------------------------

TORCH_CASES = {
    "step": lambda m, o: m.StepLR(o, step_size=7, gamma=0.3),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[3, 12, 12], gamma=0.5),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "linear": lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=13),
    "constant": lambda m, o: m.ConstantLR(o, factor=0.3, total_iters=6),
    "polynomial": lambda m, o: m.PolynomialLR(o, total_iters=20, power=1.5),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=12, eta_min=0.05),
    "lambda": lambda m, o: m.LambdaLR(o, lambda t: 0.95 ** t),
    "sequential": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=20)],
        milestones=[5]),
    "chained": lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=4),
                                                m.ExponentialLR(o, gamma=0.9)]),
    "one-cycle": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30),
    "one-cycle-3-linear": lambda m, o: m.OneCycleLR(o, max_lr=2.0, epochs=3, steps_per_epoch=10,
                                                    three_phase=True, anneal_strategy="linear"),
}


TORCH_ORDER_WARNING = "ignore:Detected call of `lr_scheduler.step\\(\\)` before"


@pytest.mark.filterwarnings(TORCH_ORDER_WARNING)
@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch", reason="torch is the reference for these tests")
    make = TORCH_CASES[name]
    ours = make(sched, make_opt(lrs=(LR0, 0.1), momentum=0.9))
    theirs = make(torch.optim.lr_scheduler, make_opt(torch, lrs=(LR0, 0.1), momentum=0.9))
    keys = ("lr", "momentum")  # OneCycleLR cycles the momentum too
    np.testing.assert_allclose(values(ours, 29, keys), values(theirs, 29, keys), rtol=1e-10,
                               atol=1e-14)


@pytest.mark.filterwarnings(TORCH_ORDER_WARNING)
def test_inverse_time_matches_torch_lambda():
    torch = pytest.importorskip("torch", reason="torch is the reference for these tests")
    ours = sched.InverseTimeLR(make_opt(), decay_steps=5)
    theirs = torch.optim.lr_scheduler.LambdaLR(make_opt(torch), lambda t: 5 / (5 + t))
    np.testing.assert_allclose(values(ours, 20), values(theirs, 20), rtol=1e-12)


def test_plateau_matches_torch():
    torch = pytest.importorskip("torch", reason="torch is the reference for these tests")
    losses = np.abs(np.sin(np.arange(60) / 3.0)) + np.linspace(1, 0.5, 60)
    for kw in (dict(patience=2, factor=0.5, cooldown=2, min_lr=0.01),
               dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs")):
        ours = sched.ReduceLROnPlateau(make_opt(lrs=(LR0, 0.1)), **kw)
        theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(make_opt(torch, lrs=(LR0, 0.1)),
                                                            **kw)
        for loss in losses:
            ours.step(loss)
            theirs.step(loss)
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        assert ours.get_last_lr() != [LR0, 0.1]
