"""``Optimizer``: parameter groups, per-parameter state, ``step(closure)``, state dicts.

Shaped like ``torch.optim.Optimizer`` without the foreach/fused/capturable flag matrix: each
algorithm sets ``_rule`` (one function updating one parameter's array, see ``sgd_update``),
implements ``_update(group, params)``, or overrides ``step``; all work on plain arrays.
"""
from __future__ import annotations

import copy
import numbers

from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from ..backend import get_array_module


class _Required:
    def __repr__(self):
        return "<required>"


required = _Required()


class Optimizer:
    """Base class. ``params`` is an iterable of Tensors or of dicts (parameter groups)."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or "
                            "dicts, got a single Tensor; wrap it in a list")
        self._check_ordered(params)
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        """Add a group; unspecified hyperparameters take the optimizer's defaults."""
        if not isinstance(group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(group).__name__}")
        if "params" not in group:
            raise ValueError(f"{type(self).__name__}: a parameter group needs a 'params' entry")
        params = group["params"]
        self._check_ordered(params)
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                f"{type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: parameter {i} is not a leaf tensor "
                                 "(optimize the leaf, not a result computed from it)")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter group lists the same "
                             "parameter twice")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one "
                             "parameter group")
        filled = {"params": params}
        for key, default in self.defaults.items():
            if key not in group and default is required:
                raise ValueError(f"{type(self).__name__}: parameter group didn't specify "
                                 f"required hyperparameter {key!r}")
            filled[key] = group.get(key, default)
        for key, value in group.items():
            filled.setdefault(key, value)
        self._validate_group(filled)
        self.param_groups.append(filled)

    def _check_ordered(self, params) -> None:
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{type(self).__name__}: parameters must be an ordered collection "
                            "(a list or tuple), not a set, whose order changes between runs")

    def _validate_group(self, group: dict) -> None:
        """Subclasses check hyperparameters here (clear errors at construction)."""

    # Optimizers whose update is a per-parameter rule set ``_rule`` to a function
    # ``rule(param, grad, state, **hyperparameters) -> new param array`` (hyperparameters: the
    # keys of ``defaults``); the rule may update the arrays in ``state`` in place.
    _rule = None

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:  # zeros_like, not grad * 0: inf * 0 is nan
                    p.grad = Tensor._make(get_array_module(p.grad.data).zeros_like(p.grad.data),
                                          None)

    def step(self, closure=None):
        """One update of every parameter with a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        todo = [(group, [p for p in group["params"] if p.grad is not None])
                for group in self.param_groups]
        for _, params in todo:  # checked before anything changes; never broadcast
            for p in params:
                if p.grad.shape != p.shape:
                    raise ValueError(f"{type(self).__name__}.step: a parameter of shape "
                                     f"{p.shape} has a gradient of shape {p.grad.shape}")
        with grad_mode.no_grad():
            for group, params in todo:
                if params:
                    self._update(group, params)
        return loss

    def _update(self, group: dict, params: list) -> None:
        if self._rule is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither _rule nor _update")
        hyper = {k: group[k] for k in self.defaults}
        for p in params:
            new = type(self)._rule(p.data, p.grad.data, self.state_for(p), **hyper)
            # a new array, not an in-place write, so arrays saved by a graph stay valid;
            # asarray: NumPy turns 0-d results into scalars, a Tensor always holds an array
            p.data = get_array_module(p.data).asarray(new, dtype=p.data.dtype)

    def state_for(self, p) -> dict:
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {}
        return state

    # ---- state dicts: parameters are referred to by their position across groups ---------
    def state_dict(self) -> dict:
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the state has {len(groups)} parameter groups, "
                             f"the optimizer {len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"load_state_dict: group {i} has {len(saved['params'])} "
                                 f"parameters in the state but {len(own['params'])} here")
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for idx, p in zip(saved["params"], own["params"]):
                by_index[idx] = p
        self.state = {}
        for key, value in state_dict["state"].items():
            p = by_index[int(key)]
            self.state[p] = {k: _restore_value(v, p) for k, v in value.items()}
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(k for k in group if k != "params"):
                lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"


def check_hyper(optimizer, key: str, value, low: float = 0.0, high: float | None = None,
                high_open: bool = False) -> None:
    """Raise a clear ValueError unless ``low <= value <= high`` (``< high`` if ``high_open``)."""
    name = type(optimizer).__name__
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: {key} must be a real number, got {value!r}")
    too_high = high is not None and (value >= high if high_open else value > high)
    if not value >= low or too_high:  # `not >=` also rejects nan
        interval = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        where = f"in {interval}" if high is not None else f">= {low}"
        raise ValueError(f"{name}: invalid {key} {value!r}; expected a value {where}")


def check_lr_eps_decay(optimizer, group: dict) -> None:
    """The checks the adaptive methods share: ``lr``, ``eps`` and ``weight_decay`` >= 0."""
    for key in ("lr", "eps", "weight_decay"):
        check_hyper(optimizer, key, group[key])


# ---- helpers of the per-parameter update rules -----------------------------------------------
def count_step(state: dict, param, **buffers) -> int:
    """Count one more step in a parameter's ``state`` and return the count. The first call
    starts ``step`` at 0 and each buffer named in ``buffers`` as an array like ``param``
    filled with the given value."""
    if not state:
        xp = get_array_module(param)
        state["step"] = 0
        for key, value in buffers.items():
            state[key] = xp.full_like(param, value)
    state["step"] += 1
    return state["step"]


def state_buffer(state: dict, key: str, like):
    """The state array ``key``, created as zeros shaped like ``like`` on first use."""
    buf = state.get(key)
    if buf is None:
        buf = state[key] = get_array_module(like).zeros_like(like)
    return buf


def decayed_grad(param, grad, weight_decay, maximize):
    """The gradient a rule sees: sign flipped to maximize, plus L2 weight decay ``wd·θ``."""
    if maximize:
        grad = -grad
    return grad + weight_decay * param if weight_decay != 0 else grad


def _copy_value(v):
    if isinstance(v, (list, tuple)):  # e.g. LBFGS's history of arrays
        return type(v)(_copy_value(x) for x in v)
    if isinstance(v, Tensor):
        return Tensor._make(v.data.copy(), None)
    if hasattr(v, "copy") and hasattr(v, "shape"):
        return Tensor._make(v.copy(), None)
    return copy.deepcopy(v)


def _restore_value(v, p):
    """State arrays come back as arrays on the parameter's device."""
    from ..backend import to_device

    if isinstance(v, (list, tuple)):
        return type(v)(_restore_value(x, p) for x in v)
    if isinstance(v, Tensor):
        return to_device(v.data, p.device).copy()
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return to_device(v, p.device).copy()
    return copy.deepcopy(v)
