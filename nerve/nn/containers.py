"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict`` (as in torch.nn)."""
from __future__ import annotations

import operator
from collections import OrderedDict

from .module import Module


def _index(container, idx) -> int:
    """A valid non-negative position for integer ``idx`` (negative counts from the end)."""
    try:
        idx = operator.index(idx)
    except TypeError:
        raise TypeError(f"{type(container).__name__} indices must be integers or slices, got "
                        f"{type(idx).__name__}") from None
    n = len(container)
    if not -n <= idx < n:
        raise IndexError(f"{type(container).__name__}: index {idx} is out of range for "
                         f"{n} modules")
    return idx % n


class Sequential(Module):
    """Modules applied in order; accepts modules or one OrderedDict of named modules.

    >>> import nerve.nn as nn
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> len(net), type(net[1]).__name__
    (3, 'ReLU')
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return type(self)(OrderedDict(items[idx]))
        return items[_index(self, idx)][1]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(list(self._modules)[_index(self, idx)], module)

    def __delitem__(self, idx) -> None:
        names = list(self._modules)
        for name in (names[idx] if isinstance(idx, slice) else [names[_index(self, idx)]]):
            delattr(self, name)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(_next_name(self), module)
        return self

    def extend(self, modules) -> Sequential:
        for m in modules:
            self.append(m)
        return self


def _next_name(container) -> str:
    """The smallest unused decimal name not below ``len`` (so appends never overwrite)."""
    n = len(container._modules)
    while str(n) in container._modules:
        n += 1
    return str(n)


class ModuleList(Module):
    """A list of modules whose parameters are registered (named '0', '1', ...).

    >>> import nerve.nn as nn
    >>> layers = nn.ModuleList(nn.Linear(3, 3) for _ in range(2))
    >>> [name for name, _ in layers.named_parameters()]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        self._renumber(items)

    def _renumber(self, items) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def __getitem__(self, idx):
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return type(self)(values[idx])
        return values[_index(self, idx)]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(str(_index(self, idx)), module)

    def __delitem__(self, idx) -> None:
        items = list(self._modules.values())
        del items[idx if isinstance(idx, slice) else _index(self, idx)]
        self._renumber(items)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules) -> ModuleList:
        return self.extend(modules)


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys.

    >>> import nerve.nn as nn
    >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 4)})
    >>> list(heads)
    ['cls', 'box']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        """Add modules from a mapping or an iterable of ``(name, module)`` pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for name, m in pairs:
            self[name] = m

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            del self[key]
