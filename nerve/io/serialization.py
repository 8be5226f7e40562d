"""``nerve.save`` / ``nerve.load``: state dicts and checkpoints in a portable, pickle-free file.

The format
----------
A checkpoint is a ZIP archive laid out like a NumPy ``.npz`` file, so ``numpy.load(path)``
opens it (``allow_pickle=False`` is enough):

* ``nerve.json`` — UTF-8 JSON ``{"format": "nerve", "version": 1, "root": NODE}`` describing
  the saved object;
* ``a0.npy``, ``a1.npy``, ... — one ``.npy`` array per distinct array (two tensors sharing
  one array, like tied weights in a state dict, store it once).

A NODE is a JSON object with a ``"type"``:

==================  ============================================================================
``tensor``          ``array`` (member key), ``dtype``, ``shape``, ``device`` (``"cpu"``,
                    ``"cuda:0"``), ``requires_grad``, ``parameter`` (a ``nn.Parameter``)
``ndarray``         ``array``, ``dtype``, ``shape``, ``device`` (a NumPy or CuPy array)
``npscalar``        ``array``, ``dtype``, ``shape`` (``[]``): a NumPy scalar such as numpy.int64
``none``            —
``bool``/``int``    ``value``
``float``           ``value``: a number, or ``"nan"``, ``"inf"``, ``"-inf"`` (strict JSON)
``complex``         ``value``: ``[real, imag]``, each encoded as for ``float``
``str``             ``value``
``list``/``tuple``  ``items``: a list of NODEs
``dict``            ``items``: a list of ``[KEY_NODE, VALUE_NODE]`` pairs in order; keys may be
``ordered_dict``    strings, numbers, bools, None or tuples of those (optimizer state uses ints)
``dtype``           ``value``: a dtype name such as ``"float32"``
``device``          ``value``: ``"cpu"`` or ``"cuda:N"``
==================  ============================================================================

Arrays whose dtype a ``.npy`` header cannot describe (``bfloat16`` from ml_dtypes) are stored
as their raw bits (``uint16``) with ``"stored_as"`` giving that dtype; ``dtype`` is always the
real one. Nothing is pickled, so loading a file never runs code from it.

Safety: ``save`` writes to a temporary file in the target's directory, flushes and fsyncs
it, then renames it over the target (``os.replace``, atomic on POSIX and Windows): a crash or
error mid-save leaves any previous file intact. ``load`` raises ``CheckpointError`` naming the
path for a truncated or corrupt file (ZIP CRCs are checked).

>>> import nerve, nerve.nn as nn, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "model.nrv")
>>> nerve.save({"model": nn.Linear(2, 3).state_dict(), "epoch": 5}, path)
>>> nerve.load(path)["epoch"]
5
"""
from __future__ import annotations

import json
import math
import os
import uuid
import zipfile
import zlib
from collections import OrderedDict

import numpy
from numpy.lib import format as npy_format

from ..autograd.tensor import Tensor
from ..backend import Device, device_of, dtypes, to_device
from ..backend import device as as_device

__all__ = ["save", "load", "CheckpointError"]

FORMAT, VERSION, META = "nerve", 1, "nerve.json"


class CheckpointError(RuntimeError):
    """A file is not a readable nerve checkpoint (truncated, corrupt, or another format)."""


# ---- encoding -------------------------------------------------------------------------------
class _Encoder:
    """Turns an object tree into a JSON node tree plus the arrays it refers to."""

    def __init__(self):
        self.arrays = []  # (key, array) in order
        self.keys = {}  # id(array) -> key
        self.keep = []  # hold every encoded array so no id() is reused meanwhile
        self.active = set()  # ids of containers being encoded (cycle detection)

    def array(self, arr, node_type, where, **extra):
        if arr.dtype.kind == "O" or (arr.dtype.kind == "V" and arr.dtype.fields is None
                                     and _dtype_name(arr.dtype) != "bfloat16"):
            raise TypeError(f"nerve.save: {where} has dtype {arr.dtype}, which the format does "
                            "not store (Python objects or opaque bytes)")
        key = self.keys.get(id(arr))
        if key is None:
            key = self.keys[id(arr)] = f"a{len(self.arrays)}"
            self.arrays.append((key, arr))
            self.keep.append(arr)
        node = {"type": node_type, "array": key, "dtype": _dtype_name(arr.dtype),
                "shape": list(arr.shape)}
        if node["dtype"] == "bfloat16":  # a .npy header cannot name it: store the raw bits
            node["stored_as"] = "uint16"
        node.update(extra)
        return node

    def encode(self, obj, where="obj"):
        if isinstance(obj, Tensor):
            from ..nn.parameter import Parameter

            return self.array(obj.data, "tensor", where, device=str(obj.device),
                              requires_grad=bool(obj.requires_grad),
                              parameter=isinstance(obj, Parameter))
        if isinstance(obj, numpy.ndarray) or hasattr(obj, "__cuda_array_interface__"):
            return self.array(obj, "ndarray", where, device=str(device_of(obj)))
        if isinstance(obj, numpy.generic):
            return self.array(numpy.asarray(obj), "npscalar", where)
        if obj is None:
            return {"type": "none"}
        if isinstance(obj, bool):
            return {"type": "bool", "value": obj}
        if isinstance(obj, int):
            return {"type": "int", "value": int(obj)}
        if isinstance(obj, float):
            return {"type": "float", "value": _float_out(obj)}
        if isinstance(obj, complex):
            return {"type": "complex", "value": [_float_out(obj.real), _float_out(obj.imag)]}
        if isinstance(obj, str):
            return {"type": "str", "value": obj}
        if isinstance(obj, numpy.dtype):
            return {"type": "dtype", "value": _dtype_name(obj)}
        if isinstance(obj, Device):
            return {"type": "device", "value": str(obj)}
        if isinstance(obj, (list, tuple, dict)):
            return self.container(obj, where)
        hint = ("; save module.state_dict() instead" if hasattr(obj, "state_dict") else "")
        raise TypeError(f"nerve.save: cannot store {where} of type {type(obj).__name__} (tensors, "
                        f"arrays, numbers, strings, None, and lists/tuples/dicts of them are "
                        f"supported){hint}")

    def container(self, obj, where):
        if id(obj) in self.active:
            raise ValueError(f"nerve.save: {where} contains itself (a reference cycle)")
        self.active.add(id(obj))
        try:
            if isinstance(obj, dict):
                kind = "ordered_dict" if isinstance(obj, OrderedDict) else "dict"
                items = [[self.key(k, where), self.encode(v, f"{where}[{k!r}]")]
                         for k, v in obj.items()]
                return {"type": kind, "items": items}
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {"type": kind, "items": [self.encode(v, f"{where}[{i}]")
                                            for i, v in enumerate(obj)]}
        finally:
            self.active.discard(id(obj))

    def key(self, k, where):
        if k is None or isinstance(k, (bool, int, float, str)):
            return self.encode(k)
        if isinstance(k, tuple):
            return {"type": "tuple", "items": [self.key(i, where) for i in k]}
        raise TypeError(f"nerve.save: {where} has a key {k!r} of type {type(k).__name__}; keys "
                        "must be strings, numbers, bools, None or tuples of those")


def _float_out(x: float):
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def _float_in(v) -> float:
    return float(v)  # float("nan"), float("inf") and numbers alike


def _dtype_name(dtype) -> str:
    """A readable dtype name ("float32") that ``_parse_dtype`` turns back into the dtype."""
    dtype = numpy.dtype(dtype)
    if dtypes.bfloat16 is not None and dtype == dtypes.bfloat16:
        return "bfloat16"
    try:
        if numpy.dtype(dtype.name) == dtype:
            return dtype.name
    except TypeError:
        pass
    return dtype.str


def _parse_dtype(name: str):
    return dtypes.as_dtype(name) if name == "bfloat16" else numpy.dtype(name)


def _storable(arr):
    """The array as written to its .npy member: bfloat16 goes as its raw bits (uint16)."""
    if _dtype_name(arr.dtype) == "bfloat16":
        return numpy.ascontiguousarray(arr).view(numpy.uint16)
    return arr


# ---- writing --------------------------------------------------------------------------------
def _write_archive(f, root, arrays, compress: bool) -> None:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, "w", compression=method, allowZip64=True) as zf:
        meta = {"format": FORMAT, "version": VERSION, "root": root}
        zf.writestr(META, json.dumps(meta, allow_nan=False, separators=(",", ":")))
        for key, arr in arrays:
            host = arr if isinstance(arr, numpy.ndarray) else to_device(arr, as_device("cpu"))
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                npy_format.write_array(member, _storable(host), allow_pickle=False)


def _atomic_write(path: str, write) -> None:
    """Write through ``write(file)`` to a temp file beside ``path``, fsync, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"nerve.save: directory {directory!r} does not exist "
                                f"(saving {path!r})")
    if os.path.isdir(path):
        raise IsADirectoryError(f"nerve.save: {path!r} is a directory")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj, f, compress: bool = False) -> None:
    """Save ``obj`` (a state dict, or nested dicts/lists/tuples of tensors, NumPy arrays,
    numbers, strings, bools and None) to the path ``f`` atomically, or to a binary file object.

    ``compress=True`` deflates the arrays (smaller, slower). Unsupported values raise a
    ``TypeError`` naming where they are, before anything is written.

    >>> import nerve, io
    >>> buffer = io.BytesIO()
    >>> nerve.save({"w": nerve.ones(2)}, buffer)
    """
    encoder = _Encoder()
    root = encoder.encode(obj)

    def write(file):
        _write_archive(file, root, encoder.arrays, compress)

    if hasattr(f, "write"):
        write(f)
    else:
        _atomic_write(os.fspath(f), write)


# ---- reading --------------------------------------------------------------------------------
class _Decoder:
    def __init__(self, zf, name, map_location):
        self.zf, self.name, self.map_location = zf, name, map_location
        self.cache = {}

    def array(self, node):
        key = node["array"]
        arr = self.cache.get(key)
        if arr is None:
            with self.zf.open(f"{key}.npy") as member:
                arr = npy_format.read_array(member, allow_pickle=False)
            if node.get("stored_as") is not None and _dtype_name(arr.dtype) == node["stored_as"]:
                arr = arr.view(_parse_dtype(node["dtype"]))
            if node["dtype"] != _dtype_name(arr.dtype):
                raise CheckpointError(f"{key}.npy holds dtype {arr.dtype}, the index says "
                                      f"{node['dtype']}")
            if list(arr.shape) != list(node["shape"]):
                raise CheckpointError(f"{key}.npy has shape {arr.shape}, the index says "
                                      f"{tuple(node['shape'])}")
            self.cache[key] = arr
        return arr

    def place(self, arr, saved_device: str):
        target = _map_device(saved_device, self.map_location, self.name)
        return arr if target.type == "cpu" else to_device(arr, target)

    def decode(self, node):
        kind = node["type"]
        if kind == "tensor":
            from ..nn.parameter import Parameter

            data = self.place(self.array(node), node["device"])
            if node.get("parameter"):
                return Parameter(data, requires_grad=node["requires_grad"])
            return Tensor(data, requires_grad=node["requires_grad"])
        if kind == "ndarray":
            return self.place(self.array(node), node.get("device", "cpu"))
        if kind == "npscalar":
            return self.array(node)[()]
        if kind == "none":
            return None
        if kind in ("bool", "int", "str"):
            return {"bool": bool, "int": int, "str": str}[kind](node["value"])
        if kind == "float":
            return _float_in(node["value"])
        if kind == "complex":
            return complex(*(_float_in(v) for v in node["value"]))
        if kind in ("list", "tuple"):
            items = [self.decode(n) for n in node["items"]]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "ordered_dict"):
            cls = OrderedDict if kind == "ordered_dict" else dict
            return cls((self.decode(k), self.decode(v)) for k, v in node["items"])
        if kind == "dtype":
            return _parse_dtype(node["value"])
        if kind == "device":
            return _map_device(node["value"], self.map_location, self.name)
        raise CheckpointError(f"unknown node type {kind!r}")


def _normalize_map_location(map_location):
    """None, a Device, or a dict {saved device string: Device}; bad values fail here."""
    if map_location is None or isinstance(map_location, Device):
        return map_location
    if isinstance(map_location, str):
        return as_device(map_location)
    if isinstance(map_location, dict):
        return {str(as_device(k)) if isinstance(k, Device) else k: as_device(v)
                for k, v in map_location.items()}
    raise TypeError(f"nerve.load: map_location must be None, a device string, a Device or a "
                    f"dict, got {type(map_location).__name__}")


def _map_device(saved: str, map_location, name) -> Device:
    target = map_location.get(saved) if isinstance(map_location, dict) else map_location
    if target is not None:
        return target
    try:
        return as_device(saved)
    except (RuntimeError, ValueError) as exc:
        raise RuntimeError(f"nerve.load({name}): the file holds data saved on {saved!r}, which "
                           f"is not available here ({exc}); pass map_location='cpu'") from None


def load(f, map_location=None):
    """Load what ``save`` wrote: tensors come back as Tensors (Parameters as Parameters) on the
    device they were saved from, or on ``map_location`` (``'cpu'``, ``'cuda:0'``, a Device, or
    a dict such as ``{'cuda:0': 'cpu'}``).

    Raises ``CheckpointError`` naming the file when it is truncated, corrupt or not a nerve
    checkpoint.
    """
    map_location = _normalize_map_location(map_location)
    name = repr(os.fspath(f)) if not hasattr(f, "read") else repr(f)
    source = f if hasattr(f, "read") else open(os.fspath(f), "rb")
    try:
        with zipfile.ZipFile(source) as zf:
            try:
                meta = json.loads(zf.read(META).decode("utf-8"))
            except KeyError:
                raise CheckpointError(f"no {META} index: not a file written by nerve.save") \
                    from None
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise CheckpointError("the index does not describe a nerve checkpoint")
            if meta.get("version") != VERSION:
                raise CheckpointError(f"format version {meta.get('version')!r} is not "
                                      f"supported (this nerve reads version {VERSION})")
            return _Decoder(zf, name, map_location).decode(meta["root"])
    except CheckpointError as exc:
        raise CheckpointError(f"nerve.load: {name} is not a valid nerve checkpoint: "
                              f"{exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError,
            KeyError, TypeError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CheckpointError(f"nerve.load: {name} is truncated or corrupt, or not a nerve "
                              f"checkpoint ({type(exc).__name__}: {exc})") from exc
    finally:
        if source is not f:
            source.close()

