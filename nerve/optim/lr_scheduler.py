"""Learning-rate schedules, shaped like ``torch.optim.lr_scheduler``.

Every schedule is a closed form ``value(base, t)`` of the group's initial value and the step
count ``t = last_epoch``: ``step()`` advances ``t`` and writes the new value into each
parameter group, ``get_last_lr()`` reads it back, and ``state_dict()`` saves ``t`` and the
settings so a resumed run continues on the same curve.

Schedules can drive any scalar group hyperparameter, not only the learning rate: pass
``param_name="weight_decay"`` (or ``"momentum"``...) and the scheduler scales that key instead.
To decay the weight decay ``μ_t`` together with the learning rate, give the optimizer two
schedulers of the same shape::

    opt = SGD(params, lr=0.1, weight_decay=1e-4)
    lr_sched = CosineAnnealingLR(opt, T_max=100)
    wd_sched = CosineAnnealingLR(opt, T_max=100, param_name="weight_decay")
    for epoch in range(100):
        train(...)
        lr_sched.step()
        wd_sched.step()

The group keeps the starting value under ``"initial_" + param_name`` (``initial_lr``, as
PyTorch), so a scheduler made with ``last_epoch=k`` resumes from it.
"""
from __future__ import annotations

import copy
import math
from bisect import bisect_right

from .optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "ExponentialLR",
           "InverseTimeLR", "LinearLR", "PolynomialLR", "CosineAnnealingLR", "LinearWarmup",
           "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau", "OneCycleLR"]


class LRScheduler:
    """Base class: subclasses define ``_value(i, base, t)``, the value of group ``i`` at step
    ``t`` when it starts at ``base`` (or ``_values(bases, t)`` for all groups at once)."""

    def __init__(self, optimizer, last_epoch: int = -1, param_name: str = "lr"):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        self.param_name = param_name
        initial = "initial_" + param_name
        for i, group in enumerate(optimizer.param_groups):
            if param_name not in group:
                raise ValueError(f"{type(self).__name__}: parameter group {i} has no "
                                 f"{param_name!r} to schedule")
            if last_epoch == -1:
                group.setdefault(initial, group[param_name])
            elif initial not in group:
                raise KeyError(f"{type(self).__name__}: resuming at last_epoch={last_epoch} "
                               f"needs {initial!r} in parameter group {i}")
        self.base_lrs = [group[initial] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self.step()

    def _value(self, i: int, base: float, t: int) -> float:
        raise NotImplementedError

    def _values(self, bases: list, t: int) -> list:
        return [self._value(i, base, t) for i, base in enumerate(bases)]

    def get_lr(self) -> list:
        """The values for the current ``last_epoch`` (without applying them)."""
        return self._values(self.base_lrs, self.last_epoch)

    def get_last_lr(self) -> list:
        """The values the last ``step()`` wrote into the parameter groups."""
        return list(self._last_lr)

    def step(self) -> None:
        self.last_epoch += 1
        self._apply(self.get_lr())

    def _apply(self, values) -> None:
        for group, value in zip(self.optimizer.param_groups, values):
            group[self.param_name] = value
        self._last_lr = list(values)

    _unsaved = ("optimizer",)

    def state_dict(self) -> dict:
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k not in self._unsaved})

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(copy.deepcopy(state_dict))


def _check_positive_int(sched, key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{type(sched).__name__}: {key} must be a positive integer, "
                         f"got {value!r}")


def _check_factor(sched, key, value, low=0.0, high=1.0):
    if not low <= value <= high:
        raise ValueError(f"{type(sched).__name__}: {key} must be in [{low}, {high}], "
                         f"got {value!r}")


class LambdaLR(LRScheduler):
    """``value = base · lr_lambda(t)``; one function, or a list with one per group.

    >>> import nerve
    >>> from nerve.optim import SGD
    >>> opt = SGD([nerve.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = LambdaLR(opt, lambda t: 0.5 ** t)
    >>> s.step(); s.step(); s.get_last_lr()
    [0.25]
    """

    _unsaved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1, param_name: str = "lr"):
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(lambdas) != n:
            raise ValueError(f"LambdaLR: expected {n} lr_lambdas (one per group), got "
                             f"{len(lambdas)}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return base * self.lr_lambdas[i](t)


class StepLR(LRScheduler):
    """``value = base · γ^⌊t / step_size⌋``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1,
                 param_name: str = "lr"):
        _check_positive_int(self, "step_size", step_size)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return base * self.gamma ** (t // self.step_size)


class MultiStepLR(LRScheduler):
    """``value = base · γ^(number of milestones ≤ t)`` (a repeated milestone counts twice)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1,
                 param_name: str = "lr"):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return base * self.gamma ** bisect_right(self.milestones, t)


class ConstantLR(LRScheduler):
    """``value = base · factor`` for ``t < total_iters``, then ``base``."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1, param_name: str = "lr"):
        _check_factor(self, "factor", factor)
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return base * self.factor if t < self.total_iters else base


class ExponentialLR(LRScheduler):
    """``value = base · γ^t``."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1, param_name: str = "lr"):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return base * self.gamma ** t


class InverseTimeLR(LRScheduler):
    """Inverse-time decay ``a / (b + t)``: ``value = base · b / (b + t)`` with
    ``b = decay_steps`` (``a = base · b``), i.e. ``base / (1 + t / decay_steps)``; the value
    halves after ``decay_steps`` steps (Keras's ``InverseTimeDecay`` with decay_rate 1)."""

    def __init__(self, optimizer, decay_steps: float, last_epoch: int = -1,
                 param_name: str = "lr"):
        if not decay_steps > 0:
            raise ValueError(f"InverseTimeLR: decay_steps must be positive, got {decay_steps}")
        self.decay_steps = decay_steps
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return base * self.decay_steps / (self.decay_steps + t)


class LinearLR(LRScheduler):
    """The factor goes linearly from ``start_factor`` to ``end_factor`` over ``total_iters``
    steps, then stays: ``base · (s + (e - s) · min(t, T) / T)``. The linear decay to zero
    ``α0 (T - t) / T`` is ``LinearLR(opt, start_factor=1, end_factor=0, total_iters=T)``."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1, param_name: str = "lr"):
        _check_factor(self, "start_factor", start_factor)
        _check_factor(self, "end_factor", end_factor)
        _check_positive_int(self, "total_iters", total_iters)
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        frac = min(t, self.total_iters) / self.total_iters
        return base * (self.start_factor + (self.end_factor - self.start_factor) * frac)


class PolynomialLR(LRScheduler):
    """``value = base · (1 - min(t, T) / T)^power``."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1, param_name: str = "lr"):
        _check_positive_int(self, "total_iters", total_iters)
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return base * (1.0 - min(t, self.total_iters) / self.total_iters) ** self.power


class CosineAnnealingLR(LRScheduler):
    """``value = η_min + (base - η_min) · (1 + cos(π t / T_max)) / 2`` (SGDR without restarts);
    ``eta_min`` is the floor, e.g. ``0.1 * lr`` for a tenth of the initial value."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1,
                 param_name: str = "lr"):
        _check_positive_int(self, "T_max", T_max)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearWarmup(LRScheduler):
    """Warm-up ``value = min(1, t / warmup_steps) · base``: 0 at the first step, the full
    value from step ``warmup_steps`` on. Chain it with a decay through ``SequentialLR``."""

    def __init__(self, optimizer, warmup_steps: int, last_epoch: int = -1,
                 param_name: str = "lr"):
        _check_positive_int(self, "warmup_steps", warmup_steps)
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, last_epoch, param_name)

    def _value(self, i, base, t):
        return min(1.0, t / self.warmup_steps) * base


class _Composite(LRScheduler):
    """Shared by SequentialLR and ChainedScheduler: sub-schedulers on the same optimizer and
    key, saved as their own state dicts."""

    _unsaved = ("optimizer", "_schedulers")

    def _adopt(self, optimizer, schedulers):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError(f"{type(self).__name__}: expected at least one scheduler")
        optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler) or isinstance(s, ReduceLROnPlateau):
                raise TypeError(f"{type(self).__name__}: scheduler {i} is a "
                                f"{type(s).__name__}, not a closed-form LRScheduler")
            if s.optimizer is not optimizer:
                raise ValueError(f"{type(self).__name__}: scheduler {i} is bound to a "
                                 "different optimizer")
            if s.param_name != schedulers[0].param_name:
                raise ValueError(f"{type(self).__name__}: schedulers drive different keys "
                                 f"({schedulers[0].param_name!r} and {s.param_name!r})")
        self._schedulers = schedulers
        return optimizer, schedulers[0].param_name

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        subs = state.pop("_schedulers")
        super().load_state_dict(state)
        for s, sub in zip(self._schedulers, subs):
            s.load_state_dict(sub)


class SequentialLR(_Composite):
    """Run ``schedulers[k]`` from ``milestones[k-1]`` on, restarting its count at 0 there.

    Every sub-schedule starts from the group's initial value, so a warm-up to ``lr`` followed
    by a cosine from ``lr`` is continuous:

    >>> import nerve
    >>> from nerve.optim import SGD
    >>> opt = SGD([nerve.zeros(1, requires_grad=True)], lr=1.0)
    >>> warm, cos = LinearWarmup(opt, 4), CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    >>> s = SequentialLR(opt, [warm, cos], milestones=[4])
    >>> [round(s.get_last_lr()[0], 3) for _ in range(7) if s.step() is None]
    [0.25, 0.5, 0.75, 1.0, 0.978, 0.914, 0.815]
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        optimizer, key = self._adopt(optimizer, schedulers)
        self._milestones = [int(m) for m in milestones]
        if len(self._milestones) != len(self._schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(self._schedulers)} schedulers need "
                             f"{len(self._schedulers) - 1} milestones, got "
                             f"{len(self._milestones)}")
        if any(b <= a for a, b in zip(self._milestones, self._milestones[1:])):
            raise ValueError(f"SequentialLR: milestones must increase, got {self._milestones}")
        super().__init__(optimizer, last_epoch, key)

    def _values(self, bases, t):
        k = bisect_right(self._milestones, t)
        s = self._schedulers[k]
        s.last_epoch = t - (self._milestones[k - 1] if k else 0)
        s._last_lr = s._values(bases, s.last_epoch)
        return s._last_lr


class ChainedScheduler(_Composite):
    """Apply every scheduler in turn, each to the previous one's output:
    ``value = f_n(... f_1(base, t) ..., t)`` — for factor schedules (Step, Exponential,
    Linear, Lambda...) the product of the factors, as PyTorch's ``ChainedScheduler``."""

    def __init__(self, schedulers, optimizer=None):
        optimizer, key = self._adopt(optimizer, schedulers)
        last = max(s.last_epoch for s in self._schedulers)
        super().__init__(optimizer, last - 1, key)

    def _values(self, bases, t):
        values = list(bases)
        for s in self._schedulers:
            s.last_epoch = t
            values = s._last_lr = s._values(values, t)
        return values


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2018), as ``torch.optim.lr_scheduler.OneCycleLR``:
    from ``max_lr / div_factor`` up to ``max_lr`` over ``pct_start`` of the steps, then down
    to ``initial / final_div_factor``; momentum (or Adam's β1) cycles the opposite way between
    ``max_momentum`` and ``base_momentum``. Call ``step()`` once per batch."""

    def __init__(self, optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR: expected an Optimizer, got {type(optimizer).__name__}")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            _check_positive_int(self, "epochs", epochs)
            _check_positive_int(self, "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        _check_positive_int(self, "total_steps", total_steps)
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        up = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (2 * up, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                            (total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                             "max_momentum")]
        else:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (total_steps - 1, "max_lr", "min_lr", "base_momentum",
                             "max_momentum")]
        groups = optimizer.param_groups
        self.cycle_momentum = cycle_momentum
        self._use_beta1 = "betas" in optimizer.defaults
        if cycle_momentum and not self._use_beta1 and "momentum" not in optimizer.defaults:
            raise ValueError("OneCycleLR: cycle_momentum needs an optimizer with momentum or "
                             "betas; pass cycle_momentum=False")
        per_group = zip(groups, _per_group(max_lr, groups, "max_lr"),
                        _per_group(max_momentum, groups, "max_momentum"),
                        _per_group(base_momentum, groups, "base_momentum"))
        for group, top, m_max, m_base in per_group:
            if last_epoch == -1:
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if cycle_momentum:
                group["max_momentum"], group["base_momentum"] = m_max, m_base
                if last_epoch == -1:
                    self._set_momentum(group, m_max)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self._use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _values(self, bases, t):
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {t} times, past total_steps="
                             f"{self.total_steps}")
        values = []
        for group in self.optimizer.param_groups:
            begin = 0.0
            for k, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if t <= end or k == len(self._phases) - 1:
                    pct = (t - begin) / (end - begin)
                    values.append(self._anneal(group[lr0], group[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m0], group[m1], pct))
                    break
                begin = end
        return values


def _per_group(value, groups, key):
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"expected {len(groups)} values of {key} (one per group), got "
                             f"{len(value)}")
        return list(value)
    return [value] * len(groups)


class ReduceLROnPlateau(LRScheduler):
    """Divide the value by ``1/factor`` when a metric has stopped improving for more than
    ``patience`` steps, as ``torch.optim.lr_scheduler.ReduceLROnPlateau``; call
    ``step(metric)`` after each validation.

    An improvement beats the best so far by more than ``threshold`` (relative to it with
    ``threshold_mode='rel'``, absolute with ``'abs'``); after a reduction, ``cooldown`` steps
    pass before bad steps count again; the value never goes below ``min_lr`` (one per group,
    or one for all), and a reduction smaller than ``eps`` is skipped.

    >>> import nerve
    >>> from nerve.optim import SGD
    >>> opt = SGD([nerve.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = ReduceLROnPlateau(opt, factor=0.5, patience=1)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0]:
    ...     s.step(loss)
    >>> s.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0.0, eps: float = 1e-8, param_name: str = "lr"):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected an Optimizer, got "
                            f"{type(optimizer).__name__}")
        if not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"ReduceLROnPlateau: patience must be an integer >= 0, got "
                             f"{patience!r}")
        self.optimizer, self.param_name = optimizer, param_name
        self.min_lrs = _per_group(min_lr, optimizer.param_groups, "min_lr")
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group[param_name] for group in optimizer.param_groups]

    def is_better(self, a: float, best: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if rel else best - self.threshold)
        return a > (best * (1.0 + self.threshold) if rel else best + self.threshold)

    def step(self, metrics) -> None:
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group[self.param_name])
                new = max(old * self.factor, floor)
                if old - new > self.eps:
                    group[self.param_name] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group[self.param_name] for group in self.optimizer.param_groups]

    def get_lr(self) -> list:
        return self.get_last_lr()
