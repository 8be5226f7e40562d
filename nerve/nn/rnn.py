"""Recurrent layers shaped like ``torch.nn``: ``RNN``, ``LSTM``, ``GRU`` and their cells.

Parameters have PyTorch's names, shapes and gate layouts (``weight_ih_l{k}{_reverse}``,
``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``; LSTM gates i, f, g, o and GRU gates
r, z, n), so a PyTorch ``state_dict`` loads unchanged. Every layer and direction runs as one
fused primitive (``nerve.ops.recurrent``): one matmul projects the whole input sequence, then
one step per time index, with a hand-written backward through time.
"""
from __future__ import annotations

import math

from ..autograd.tensor import Tensor
from ..ops import creation
from ..ops.dropout import dropout
from ..ops.recurrent import GATES, recurrent_layer
from ..ops.shape import cat, stack
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _new_param(shape, device, dtype) -> Parameter:
    return Parameter(creation.empty(*shape, dtype=dtype, device=device))


def _uniform_reset(module: Module, hidden_size: int) -> None:
    """PyTorch's recurrent init: every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def _check_dtype(name: str, x: Tensor, weight: Tensor) -> None:
    if x.dtype != weight.dtype:
        raise TypeError(f"{name}: input has dtype {x.dtype} but the parameters are "
                        f"{weight.dtype}; cast the input or call .to({x.dtype}) on the module")


def _state(name, label, value, expected, batched, x):
    """Validate an initial state (Tensor or None -> zeros) against ``expected`` (batched)."""
    if value is None:
        return x.device.xp.zeros(expected, dtype=x.dtype)
    want = expected if batched else expected[:1] + expected[2:]
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: {label} must be a Tensor, got {type(value).__name__}")
    if tuple(value.shape) != want:
        raise ValueError(f"{name}: expected {label} of shape {want}, got {tuple(value.shape)}")
    return value if batched else value.unsqueeze(1)


class RNNBase(Module):
    """Shared body of ``RNN``, ``LSTM`` and ``GRU`` (``mode`` is 'RNN_TANH', 'RNN_RELU',
    'LSTM' or 'GRU'). Default init: every parameter ~ U(-1/sqrt(hidden_size),
    1/sqrt(hidden_size)), as PyTorch."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {sorted(GATES)}")
        if not (isinstance(hidden_size, int) and hidden_size > 0):
            raise ValueError(f"{name}: hidden_size must be a positive integer, got "
                             f"{hidden_size!r}")
        if not (isinstance(num_layers, int) and num_layers > 0):
            raise ValueError(f"{name}: num_layers must be a positive integer, got "
                             f"{num_layers!r}")
        if isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported (got {proj_size})")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, 0
        gates = GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {"weight_ih": (gates, layer_input), "weight_hh": (gates, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gates,), bias_hh=(gates,))
                for kind, shape in shapes.items():
                    setattr(self, kind + suffix, _new_param(shape, device, dtype))
                    self._flat_weights_names.append(kind + suffix)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_reset(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch code that calls it (weights are never flattened here)."""

    @property
    def all_weights(self):
        per = 4 if self.bias else 2
        ws = [getattr(self, n) for n in self._flat_weights_names]
        return [ws[i:i + per] for i in range(0, len(ws), per)]

    def _layer_params(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = self.__dict__.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix), get("bias_ih" + suffix),
                get("bias_hh" + suffix))

    def _check_input(self, x):
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
        order = "(batch, seq_len, input_size)" if self.batch_first else \
            "(seq_len, batch, input_size)"
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a 2-D (seq_len, input_size) unbatched or 3-D "
                             f"{order} batched input, got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with last dimension input_size="
                             f"{self.input_size}, got shape {tuple(x.shape)}")
        if x.shape[0 if x.ndim == 2 or not self.batch_first else 1] == 0:
            raise ValueError(f"{name}: the input sequence is empty (shape {tuple(x.shape)})")
        _check_dtype(name, x, self.weight_ih_l0)

    def forward(self, input: Tensor, hx=None):
        """Run the whole stack. Returns ``(output, h_n)`` (``(output, (h_n, c_n))`` for LSTM):
        output (seq_len, batch, D * hidden_size) (batch first with ``batch_first``), h_n and
        c_n (D * num_layers, batch, hidden_size); an unbatched 2-D input drops the batch dim."""
        name = type(self).__name__
        self._check_input(input)
        batched = input.ndim == 3
        if not batched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, x.shape[1], self.hidden_size)
        if self.mode == "LSTM":
            if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
            h0, c0 = (None, None) if hx is None else hx
            h0 = _state(name, "h_0", h0, expected, batched, x)
            c0 = _state(name, "c_0", c0, expected, batched, x)
        else:
            h0, c0 = _state(name, "hx", hx, expected, batched, x), None
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = dropout(x, self.dropout)
            outputs = []
            for direction in range(directions):
                k = layer * directions + direction
                res = recurrent_layer(self.mode, x, h0[k], *self._layer_params(layer, direction),
                                      c0=None if c0 is None else c0[k], reverse=direction == 1)
                outputs.append(res[0])
                h_n.append(res[1])
                if c0 is not None:
                    c_n.append(res[2])
            x = outputs[0] if directions == 1 else cat(outputs, 2)
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if c0 is not None else None
        if not batched:
            x, h_n = x.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, (h_n if c_n is None else (h_n, c_n))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for key, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                             ("bidirectional", False)):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    Default init: all parameters ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    >>> import nerve
    >>> rnn = nerve.nn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(nerve.randn(5, 3, 10))
    >>> out.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's formulation (gates i, f, g, o):
    c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t).

    Default init: all parameters ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    >>> import nerve
    >>> lstm = nerve.nn.LSTM(10, 20, batch_first=True, bidirectional=True)
    >>> out, (h_n, c_n) = lstm(nerve.randn(3, 5, 10))
    >>> out.shape, h_n.shape
    ((3, 5, 40), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's formulation (gates r, z, n):
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.

    Default init: all parameters ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    >>> import nerve
    >>> out, h_n = nerve.nn.GRU(10, 20)(nerve.randn(5, 3, 10))
    >>> out.shape
    (5, 3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# ---- cells ----------------------------------------------------------------------------------
class RNNCellBase(Module):
    """One time step; parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh.
    Default init: all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, mode: str, device=None,
                 dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gates = GATES[self.mode] * hidden_size
        self.weight_ih = _new_param((gates, input_size), device, dtype)
        self.weight_hh = _new_param((gates, hidden_size), device, dtype)
        if bias:
            self.bias_ih = _new_param((gates,), device, dtype)
            self.bias_hh = _new_param((gates,), device, dtype)
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_reset(self, self.hidden_size)

    def _run(self, input, hx):
        """Validate, then run one step: (h,) or, for LSTM, (h, c)."""
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            raise ValueError(f"{name}: expected a 1-D (input_size,) or 2-D (batch, input_size) "
                             f"input, got shape {tuple(getattr(input, 'shape', ()))}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with last dimension input_size="
                             f"{self.input_size}, got shape {tuple(input.shape)}")
        _check_dtype(name, input, self.weight_ih)
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if self.mode == "LSTM":
            if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
            h, c = (None, None) if hx is None else hx
            h0 = self._cell_state(name, "h_0", h, x, batched)
            c0 = self._cell_state(name, "c_0", c, x, batched)
        else:
            h0, c0 = self._cell_state(name, "hx", hx, x, batched), None
        outs = recurrent_layer(self.mode, x.unsqueeze(0), h0, self.weight_ih, self.weight_hh,
                               self.bias_ih, self.bias_hh, c0=c0)[1:]
        return outs if batched else tuple(o.squeeze(0) for o in outs)

    def _cell_state(self, name, label, value, x, batched):
        if value is None:
            return x.device.xp.zeros((x.shape[0], self.hidden_size), dtype=x.dtype)
        expected = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if not isinstance(value, Tensor) or tuple(value.shape) != expected:
            raise ValueError(f"{name}: expected {label} of shape {expected}, got "
                             f"{tuple(getattr(value, 'shape', ()))}")
        return value if batched else value.unsqueeze(0)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu.

    >>> import nerve
    >>> nerve.nn.RNNCell(10, 20)(nerve.randn(3, 10)).shape
    (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, "RNN_" + nonlinearity.upper(), device,
                         dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, hx)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step; ``hx`` = (h, c); returns (h', c').

    >>> import nerve
    >>> h, c = nerve.nn.LSTMCell(10, 20)(nerve.randn(3, 10))
    >>> h.shape
    (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, "LSTM", device, dtype)

    def forward(self, input: Tensor, hx=None):
        return self._run(input, hx)


class GRUCell(RNNCellBase):
    """One GRU step; returns h'.

    >>> import nerve
    >>> nerve.nn.GRUCell(10, 20)(nerve.randn(3, 10)).shape
    (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, "GRU", device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, hx)[0]
