"""Grad mode: whether operations record the graph. A module global, read on every op."""
from __future__ import annotations

import functools

_enabled = True


def is_grad_enabled() -> bool:
    return _enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        global _enabled
        self.prev, _enabled = _enabled, self.mode
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self.mode) if type(self) is set_grad_enabled else self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """``with nerve.no_grad():`` nothing is recorded and results never require grad."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)
