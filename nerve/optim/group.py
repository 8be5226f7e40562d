"""``OptimizerGroup``: several optimizers that train one model, seen as one.

A GAN updates its generator and its discriminator with two optimizers, while the training
loop and its checkpoints expect one. The group looks like an optimizer where that matters:
``param_groups`` (all members', in order, so schedulers and the logged ``lr`` work),
``zero_grad``, ``step`` (every member), and ``state_dict``/``load_state_dict`` keyed by the
members' names, which the train step reaches as ``group["generator"]``.

>>> import nerve.nn as nn
>>> from nerve.optim import Adam
>>> g, d = nn.Linear(2, 2), nn.Linear(2, 1)
>>> opt = OptimizerGroup(generator=Adam(g.parameters(), lr=2e-4),
...                      discriminator=Adam(d.parameters(), lr=2e-4))
>>> len(opt.param_groups), sorted(opt.state_dict())
(2, ['discriminator', 'generator'])
"""
from __future__ import annotations

__all__ = ["OptimizerGroup"]


class OptimizerGroup:
    """Named optimizers used together: ``OptimizerGroup(generator=opt_g, discriminator=opt_d)``."""

    def __init__(self, **optimizers):
        if not optimizers:
            raise ValueError("OptimizerGroup: give at least one name=optimizer")
        for name, opt in optimizers.items():
            if not hasattr(opt, "param_groups") or not hasattr(opt, "state_dict"):
                raise TypeError(f"OptimizerGroup: {name} must be an optimizer, got "
                                f"{type(opt).__name__}")
        self.optimizers = dict(optimizers)

    def __getitem__(self, name: str):
        return self.optimizers[name]

    @property
    def param_groups(self) -> list:
        return [g for opt in self.optimizers.values() for g in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none)

    def step(self, closure=None):
        """Step every member (a closure is evaluated once, by the first)."""
        loss = None
        for opt in self.optimizers.values():
            value = opt.step(closure)
            loss, closure = (value if loss is None else loss), None
        return loss

    def state_dict(self) -> dict:
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_state_dict(self, state_dict: dict) -> None:
        if set(state_dict) != set(self.optimizers):
            raise ValueError(f"OptimizerGroup.load_state_dict: the state holds optimizers "
                             f"{sorted(state_dict)}, this group has {sorted(self.optimizers)}")
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state_dict[name])

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={type(o).__name__}" for n, o in self.optimizers.items())
        return f"OptimizerGroup({inner})"
