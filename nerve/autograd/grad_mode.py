"""Grad mode: whether operations record the graph. A module global, read on every op."""
from __future__ import annotations

import functools

_enabled = True


def is_grad_enabled() -> bool:
    return _enabled


class _GradMode:
    """Context manager (and decorator) that sets grad mode on entry and restores it on exit."""

    mode = True

    def __enter__(self):
        global _enabled
        self.prev, _enabled = _enabled, self.mode
        return self

    def __exit__(self, *exc):
        global _enabled
        _enabled = self.prev

    def _fresh(self):
        return type(self)()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._fresh():  # a new manager per call, so recursion restores correctly
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """``with nerve.no_grad():`` nothing is recorded and results never require grad."""

    mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Turn recording on or off: as a plain call (takes effect at once, like PyTorch), as a
    context manager (restored on exit) or as a decorator."""

    def __init__(self, mode: bool = True):
        global _enabled
        self.mode = bool(mode)
        self.prev, _enabled = _enabled, self.mode

    def __enter__(self):  # already applied by __init__
        return self

    def __call__(self, fn):
        global _enabled
        _enabled = self.prev  # used as a decorator: undo the immediate effect of __init__
        return super().__call__(fn)

    def _fresh(self):
        return set_grad_enabled(self.mode)
