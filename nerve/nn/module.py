"""``Module``: the base of every layer and model, shaped like ``torch.nn.Module``.

Parameters, buffers and submodules assigned as attributes are registered in ordered dicts and
also kept in ``__dict__``, so reading ``self.weight`` in ``forward`` is a plain attribute access.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy

from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from ..backend import device as as_device
from ..backend import dtypes, get_array_module, to_device
from ..ops.methods import parse_to_args
from .parameter import Buffer, Parameter

_REGISTRIES = ("_parameters", "_buffers", "_modules")


class _RemovableHandle:
    """Returned by ``register_forward_hook`` and friends; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict(strict=False)`` skipped (as torch's named tuple)."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class Module:
    """Base class of all layers and models.

    >>> import nerve
    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = Parameter(nerve.ones(3))
    ...     def forward(self, x):
    ...         return x * self.w
    >>> [name for name, _ in Affine().named_parameters()]
    ['w']
    """

    training: bool
    _hook_counter = 0

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()

    # ---- registration ---------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attribute {name!r}")
        if name in d["_parameters"] and not (value is None or isinstance(value, Parameter)):
            raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as "
                            f"parameter {name!r} (a Parameter or None is expected)")
        if name in d["_modules"] and not (value is None or isinstance(value, Module)):
            raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as "
                            f"child module {name!r} (a Module or None is expected)")
        if isinstance(value, Parameter):
            self._unregister(name, keep="_parameters")
            d["_parameters"][name] = value
        elif isinstance(value, Module):
            self._unregister(name, keep="_modules")
            d["_modules"][name] = value
        elif isinstance(value, Buffer):
            self.register_buffer(name, Tensor._make(value.data, None), value.persistent)
            return
        elif name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} "
                                f"as buffer {name!r} (a Tensor or None is expected)")
            d["_buffers"][name] = value
        elif value is None:  # an empty slot stays registered, as in torch (``self.bias = None``)
            for registry in ("_parameters", "_modules"):
                if name in d[registry]:
                    d[registry][name] = None
        d[name] = value

    def __delattr__(self, name):
        if name not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        self._unregister(name)
        del self.__dict__[name]

    def _unregister(self, name: str, keep: str | None = None) -> None:
        """Drop ``name`` from every registry but ``keep`` (where a re-assignment keeps its
        position, as in torch)."""
        for registry in _REGISTRIES:
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        self.__dict__["_non_persistent"].discard(name)

    def _check_new_name(self, what: str, name) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what}: name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what}: name {name!r} must be non-empty and contain no '.'")
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"{what}({name!r})")
        registered = any(name in self.__dict__[r] for r in _REGISTRIES)
        if hasattr(self, name) and not registered:
            raise KeyError(f"{what}: attribute {name!r} already exists on "
                           f"{type(self).__name__}")

    def _register(self, what: str, registry: str, name, value, cls: type,
                  expected: str) -> None:
        """``what``'s checks, then ``value`` (an instance of ``cls`` or None) under ``name`` in
        ``registry`` and as an attribute."""
        self._check_new_name(what, name)
        if value is not None and not isinstance(value, cls):
            raise TypeError(f"{what}: {name!r} must be {expected}, got {type(value).__name__}")
        self._unregister(name, keep=registry)
        self.__dict__[registry][name] = value
        self.__dict__[name] = value

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or an empty slot for None) under ``name``."""
        self._register("register_parameter", "_parameters", name, param, Parameter,
                       "a Parameter or None")

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that is state but not learnable (e.g. batch-norm running statistics).
        Non-persistent buffers move with ``to()`` but are left out of ``state_dict``."""
        self._register("register_buffer", "_buffers", name, tensor, Tensor, "a Tensor or None")
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child under ``name`` (what attribute assignment does)."""
        self._register("add_module", "_modules", name, module, Module, "a Module")

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path such as ``'encoder.layers.0'`` ('' is self)."""
        module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"get_submodule: {type(module).__name__} has no submodule "
                                     f"{part!r} (looking up {target!r})")
            module = child
        return module

    # ---- calling --------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def _add_hook(self, registry: dict, hook):
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}: a hook must be callable, got {hook!r}")
        Module._hook_counter += 1
        registry[Module._hook_counter] = hook
        return _RemovableHandle(registry, Module._hook_counter)

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` runs before forward and may return replacement args (a tuple,
        or a single value that becomes a 1-tuple). Returns a handle with ``remove()``."""
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` runs after forward and may return a replacement
        output. Returns a handle with ``remove()``."""
        return self._add_hook(self._forward_hooks, hook)

    # ---- traversal --------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True):
        """``(dotted_name, module)`` for self and every submodule, depth first (self is '').
        A module reachable twice is yielded once unless ``remove_duplicate=False``."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:  # iterative pre-order: deep models never hit the recursion limit
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()
                        if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for mod_name, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """``(dotted_name, parameter)`` pairs; a parameter shared by several modules (tied
        weights) is yielded once, under its first name."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and bulk changes -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics), set recursively
        through each child's own ``train`` so that overrides are honoured."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {mode!r}")
        self.__dict__["training"] = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's ``.grad`` (or fill it with zeros when ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                data = p.grad.data
                p.grad = Tensor._make(get_array_module(data).zeros_like(data), None)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every submodule, children before their parent (post-order,
        as torch), then on self; e.g. ``net.apply(init_weights)``."""
        order, stack, seen = [], [(self, False)], set()
        while stack:
            module, expanded = stack.pop()
            if expanded:
                order.append(module)
                continue
            if id(module) in seen:
                continue
            seen.add(id(module))
            stack.append((module, True))
            stack.extend((c, False) for c in reversed(list(module.children())))
        for module in order:
            fn(module)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move parameters and buffers to a device and/or cast the floating ones to a floating
        dtype, in place: Parameter objects keep their identity (optimizers hold them), and
        integer buffers keep their dtype. ``to(device)``, ``to(dtype)``, ``to(device, dtype)``.
        """
        device, dtype = _parse_to_args(args, kwargs)
        with grad_mode.no_grad():
            for module in self.modules():
                for registry in (module._parameters, module._buffers):
                    for t in registry.values():
                        if t is not None:
                            _move_(t, device, dtype)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def half(self) -> Module:
        return self.to(dtypes.float16)

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers under dotted keys (``layer1.0.weight``).

        As torch, a module or parameter reachable under two names appears under both keys.
        Values share memory with the module unless copied (``keep_vars=True`` gives the
        Parameter objects themselves).
        """
        out = OrderedDict() if destination is None else destination
        for mod_name, module in self.named_modules(prefix=prefix.rstrip("."),
                                                   remove_duplicate=False):
            base = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[base + name] = p if keep_vars else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[base + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values in, converted to each parameter's dtype and device.

        With ``strict`` every key must match. All keys, shapes and conversions are checked
        before anything is copied, so a failed load raises a ``RuntimeError`` naming each
        problem key and leaves the module unchanged. Returns ``(missing_keys,
        unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict of {type(self).__name__}: expected a dict, got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems, updates = [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                data = value.data if isinstance(value, Tensor) else numpy.asarray(value)
            except Exception as exc:  # e.g. ragged lists
                problems.append(f"{key}: cannot convert {type(value).__name__} ({exc})")
                continue
            if tuple(data.shape) != tuple(target.shape):
                problems.append(f"size mismatch for {key}: copying a param with shape "
                                f"{tuple(data.shape)} from checkpoint, the shape in current "
                                f"model is {tuple(target.shape)}")
                continue
            if data.dtype.kind in "OUSV" and data.dtype != target.dtype:
                problems.append(f"{key}: cannot copy dtype {data.dtype} into {target.dtype}")
                continue
            updates.append((target, data))
        if strict:
            if missing:
                problems.append("missing keys: " + ", ".join(missing))
            if unexpected:
                problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: " +
                               "; ".join(problems))
        converted = [to_device(data, target.device).astype(target.dtype, copy=True)
                     for target, data in updates]
        for (target, _), data in zip(updates, converted):
            target.data = data
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The constructor arguments shown inside ``Name(...)``; layers override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(m).replace("\n", "\n  ")
                    for name, m in self._modules.items()]
        if len(lines) == 1 and not children:
            return f"{type(self).__name__}({lines[0]})"
        lines += children
        if not lines:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()))


def _parse_to_args(args, kwargs):
    """(device, dtype) from ``Module.to``'s arguments; only floating/complex dtypes allowed."""
    device, dtype = parse_to_args("Module.to", args, kwargs)
    device = None if device is None else as_device(device)
    dtype = dtypes.as_dtype(dtype)
    if dtype is not None and not (dtypes.is_floating(dtype) or dtype.kind == "c"):
        raise TypeError(f"Module.to only accepts floating point or complex dtypes, got {dtype}")
    return device, dtype


def _move_(t: Tensor, device, dtype) -> None:
    """Cast (floating to floating, complex to complex) and move ``t`` in place."""
    for holder in (t, t.grad):
        if holder is None:
            continue
        data = holder.data
        kind = "c" if data.dtype.kind == "c" else ("f" if dtypes.is_floating(data.dtype) else "")
        target = dtype if dtype is not None and kind and (
            "c" if dtype.kind == "c" else "f") == kind else None
        if target is not None and target != data.dtype:
            data = data.astype(target)
        if device is not None:
            data = to_device(data, device)
        holder.data = data
