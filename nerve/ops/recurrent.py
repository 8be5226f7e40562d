"""Fused recurrent primitives: one Function runs a whole sequence of one layer in one direction
(Elman RNN, LSTM, GRU) with a hand-written backpropagation through time (BPTT).

Only what must be sequential happens per time step: the input projection of all steps is one
matmul done by the caller (``gx``, shape (T, N, G*H), biases folded in where they can be), and
the recurrent weight gradient is one matmul over all steps after the loop. Gate layouts and
formulas are PyTorch's, so its weights can be copied in: LSTM gates [i, f, g, o]; GRU gates
[r, z, n] with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

The step code is written against ``F``: arrays in forward, graph tensors in ``bptt``. A
first-order backward (plain arrays) runs ``bptt_arrays`` instead: the same arithmetic in the
same order (bit-identical results), written in place into gradient buffers allocated once per
sequence rather than a few new arrays per step. Under ``create_graph`` the backward first reruns
the forward on the graph tensors and runs ``bptt``, so the gradient it returns is itself
differentiable. Sigmoids are computed as 0.5 * tanh(x / 2) + 0.5 (one transcendental, no
overflow), with the 1/2 folded into the projections once per sequence.
"""
from __future__ import annotations

from ..autograd import engine
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from .linear import linear

__all__ = ["gru_cell", "lstm_cell", "recurrent_layer", "rnn_relu_cell", "rnn_tanh_cell"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _blocks(xp, dtype, hidden, values):
    """A (len(values) * hidden,) vector holding one value per gate block."""
    return xp.repeat(xp.asarray(values, dtype=dtype), hidden)


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _prev_states(F, h0, hs, reverse):
    """The state each step started from, stacked in time order (T, N, H)."""
    return F.stack(hs[1:] + [h0] if reverse else [h0] + hs[:-1], 0)


def _backward_steps(n, reverse):
    """Steps in backward order, each with the index of the step before it (None: the first)."""
    for t in reversed(_steps(n, reverse)):
        tp = t + 1 if reverse else t - 1
        yield t, None if tp in (-1, n) else tp


def _add_grad(xp, dh, g_t):
    """dh + g_t, in place into the carried dh (a copy of g_t at the first step)."""
    return g_t.copy() if dh is None else xp.add(dh, g_t, out=dh)


def _weight_grad(F, dpre, prev):
    """sum over t of dpre_t^T @ prev_t, as one (G*H, H) matmul over all steps."""
    return F.matmul(F.transpose(dpre.reshape(-1, dpre.shape[-1]), (1, 0)),
                    prev.reshape(-1, prev.shape[-1]))


class _Sequence(Function):
    """Plumbing shared by the three recurrences: ``run`` computes the per-step states from the
    inputs, ``output`` packs them into the one output array, ``bptt`` is the backward."""

    def forward(self, *arrays):
        states = self.run(engine.ARRAY_NAMESPACES[self.xp], *arrays)
        self.n_inputs = len(arrays)
        self.save(*arrays, *states)
        return self.output(engine.ARRAY_NAMESPACES[self.xp], states)

    def backward(self, F, g):
        inputs, states = self.saved[:self.n_inputs], self.saved[self.n_inputs:]
        if isinstance(g, Tensor):  # create_graph: states as functions of the graph inputs
            return self.bptt(F, g, *inputs, *self.run(F, *inputs))
        return self.bptt_arrays(F, g, *inputs, *states)

    def output(self, F, states):
        return F.stack(states[0], 0)


class RNNSequence(_Sequence):
    """h_t = act(gx_t + h_{t-1} W_hh^T), act = tanh or relu; inputs (gx, h0, w_hh)."""

    def run(self, F, gx, h0, w):
        wt = F.transpose(w, (1, 0))
        hs = [None] * gx.shape[0]
        h = h0
        for t in _steps(gx.shape[0], self.reverse):
            pre = gx[t] + F.matmul(h, wt)
            h = F.where(pre > 0, pre, 0) if self.relu else F.tanh(pre)
            hs[t] = h
        return (hs,)

    def bptt(self, F, g, gx, h0, w, hs):
        dpres = [None] * len(hs)
        carry = None
        for t in reversed(_steps(len(hs), self.reverse)):
            dh = g[t] if carry is None else carry + g[t]
            h = hs[t]
            dpre = dh * (h > 0) if self.relu else dh * (1 - h * h)
            dpres[t] = dpre
            carry = F.matmul(dpre, w)
        dgx = F.stack(dpres, 0)
        return dgx, carry, _weight_grad(F, dgx, _prev_states(F, h0, hs, self.reverse))

    def bptt_arrays(self, F, g, gx, h0, w, hs):
        xp = self.xp
        dgx = xp.empty((len(hs),) + hs[0].shape, dtype=hs[0].dtype)
        tmp = xp.empty(hs[0].shape, dtype=bool if self.relu else hs[0].dtype)
        dh = None
        for t, _ in _backward_steps(len(hs), self.reverse):
            dh = _add_grad(xp, dh, g[t])
            if self.relu:
                xp.greater(hs[t], 0, out=tmp)
            else:
                xp.subtract(1, xp.multiply(hs[t], hs[t], out=tmp), out=tmp)
            xp.multiply(dh, tmp, out=dgx[t])
            dh = xp.matmul(dgx[t], w, out=dh)
        return dgx, dh, _weight_grad(F, dgx, _prev_states(F, h0, hs, self.reverse))


class LSTMSequence(_Sequence):
    """Inputs (gx, h0, c0, w_hh), gx holding both biases; the output stacks the T hidden
    states and then the final cell state: shape (T + 1, N, H)."""

    def run(self, F, gx, h0, c0, w):
        xp, hidden = self.xp, h0.shape[-1]
        scale = _blocks(xp, gx.dtype, hidden, (0.5, 0.5, 1.0, 0.5))
        shift = _blocks(xp, gx.dtype, hidden, (0.5, 0.5, 0.0, 0.5))
        gxs, wts = gx * scale, F.transpose(w, (1, 0)) * scale
        n = gx.shape[0]
        hs, cs, tcs, acts = [None] * n, [None] * n, [None] * n, [None] * n
        h, c = h0, c0
        for t in _steps(n, self.reverse):
            act = F.tanh(gxs[t] + F.matmul(h, wts)) * scale + shift
            i, f = act[:, :hidden], act[:, hidden:2 * hidden]
            gg, o = act[:, 2 * hidden:3 * hidden], act[:, 3 * hidden:]
            c = f * c + i * gg
            tc = F.tanh(c)
            h = o * tc
            hs[t], cs[t], tcs[t], acts[t] = h, c, tc, act
        return hs, cs, tcs, acts

    def output(self, F, states):
        hs, cs = states[0], states[1]
        return F.stack(hs + [cs[0 if self.reverse else -1]], 0)

    def bptt(self, F, g, gx, h0, c0, w, hs, cs, tcs, acts):
        n, hidden = len(hs), h0.shape[-1]
        # d act / d pre = (1 - a) * (a + m): a(1 - a) for sigmoid gates, 1 - a^2 for tanh's
        m = _blocks(self.xp, gx.dtype, hidden, (0.0, 0.0, 1.0, 0.0))
        dpres = [None] * n
        carry, dc = None, g[n]
        for t in reversed(_steps(n, self.reverse)):
            tp = t + 1 if self.reverse else t - 1
            c_prev = c0 if tp in (-1, n) else cs[tp]
            dh = g[t] if carry is None else carry + g[t]
            act, tc = acts[t], tcs[t]
            i, f = act[:, :hidden], act[:, hidden:2 * hidden]
            gg, o = act[:, 2 * hidden:3 * hidden], act[:, 3 * hidden:]
            dc = dc + dh * o * (1 - tc * tc)
            dact = F.concatenate([dc * gg, dc * c_prev, dc * i, dh * tc], 1)
            dpre = dact * (1 - act) * (act + m)
            dpres[t] = dpre
            carry = F.matmul(dpre, w)
            dc = dc * f
        dgx = F.stack(dpres, 0)
        return dgx, carry, dc, _weight_grad(F, dgx, _prev_states(F, h0, hs, self.reverse))

    def bptt_arrays(self, F, g, gx, h0, c0, w, hs, cs, tcs, acts):
        xp, n, hidden = self.xp, len(hs), h0.shape[-1]
        m = _blocks(xp, gx.dtype, hidden, (0.0, 0.0, 1.0, 0.0))
        dgx = xp.empty((n,) + acts[0].shape, dtype=acts[0].dtype)
        gate = xp.empty(acts[0].shape, dtype=acts[0].dtype)
        tmp, tmp2 = xp.empty_like(hs[0]), xp.empty_like(hs[0])
        dh, dc = None, g[n].copy()
        for t, tp in _backward_steps(n, self.reverse):
            c_prev = c0 if tp is None else cs[tp]
            dh = _add_grad(xp, dh, g[t])
            act, tc, dpre = acts[t], tcs[t], dgx[t]
            i, f = act[:, :hidden], act[:, hidden:2 * hidden]
            gg, o = act[:, 2 * hidden:3 * hidden], act[:, 3 * hidden:]
            xp.multiply(dh, o, out=tmp)  # dc += dh * o * (1 - tc * tc)
            tmp *= xp.subtract(1, xp.multiply(tc, tc, out=tmp2), out=tmp2)
            dc += tmp
            for k, (a, b) in enumerate(((dc, gg), (dc, c_prev), (dc, i), (dh, tc))):
                xp.multiply(a, b, out=dpre[:, k * hidden:(k + 1) * hidden])
            dpre *= xp.subtract(1, act, out=gate)
            dpre *= xp.add(act, m, out=gate)
            dh = xp.matmul(dpre, w, out=dh)
            dc *= f
        return dgx, dh, dc, _weight_grad(F, dgx, _prev_states(F, h0, hs, self.reverse))


class GRUSequence(_Sequence):
    """Inputs (gx, h0, w_hh, b_hh), gx holding b_ih only (b_hn sits inside r * (...))."""

    def run(self, F, gx, h0, w, b):
        xp, hidden = self.xp, h0.shape[-1]
        scale = _blocks(xp, gx.dtype, hidden, (0.5, 0.5, 1.0))
        gxs, wts = gx * scale, F.transpose(w, (1, 0)) * scale
        bs = None if b is None else b * scale
        n = gx.shape[0]
        hs, rzs, ns, ghns = [None] * n, [None] * n, [None] * n, [None] * n
        h = h0
        for t in _steps(n, self.reverse):
            gh = F.matmul(h, wts)
            if bs is not None:
                gh = gh + bs
            x_t = gxs[t]
            rz = F.tanh(x_t[:, :2 * hidden] + gh[:, :2 * hidden]) * 0.5 + 0.5
            ghn = gh[:, 2 * hidden:]
            nn = F.tanh(x_t[:, 2 * hidden:] + rz[:, :hidden] * ghn)
            h = nn + rz[:, hidden:] * (h - nn)
            hs[t], rzs[t], ns[t], ghns[t] = h, rz, nn, ghn
        return hs, rzs, ns, ghns

    def bptt(self, F, g, gx, h0, w, b, hs, rzs, ns, ghns):
        n, hidden = len(hs), h0.shape[-1]
        dgxs, dghs = [None] * n, [None] * n
        carry = None
        for t in reversed(_steps(n, self.reverse)):
            tp = t + 1 if self.reverse else t - 1
            h_prev = h0 if tp in (-1, n) else hs[tp]
            dh = g[t] if carry is None else carry + g[t]
            rz, nn = rzs[t], ns[t]
            r, z = rz[:, :hidden], rz[:, hidden:]
            dz = dh * z
            dnp = (dh - dz) * (1 - nn * nn)
            drz = F.concatenate([dnp * ghns[t], dh * (h_prev - nn)], 1) * rz * (1 - rz)
            dgxs[t] = F.concatenate([drz, dnp], 1)
            dghs[t] = F.concatenate([drz, dnp * r], 1)
            carry = F.matmul(dghs[t], w) + dz
        dgx, dgh = F.stack(dgxs, 0), F.stack(dghs, 0)
        dw = _weight_grad(F, dgh, _prev_states(F, h0, hs, self.reverse))
        return dgx, carry, dw, None if b is None else dgh.sum(axis=(0, 1))

    def bptt_arrays(self, F, g, gx, h0, w, b, hs, rzs, ns, ghns):
        xp, n, hidden = self.xp, len(hs), h0.shape[-1]
        dgx = xp.empty((n,) + gx.shape[1:], dtype=rzs[0].dtype)
        dgh = xp.empty_like(dgx)
        dz, tmp = xp.empty_like(hs[0]), xp.empty_like(hs[0])
        gate = xp.empty_like(rzs[0])
        dh = None
        for t, tp in _backward_steps(n, self.reverse):
            h_prev = h0 if tp is None else hs[tp]
            dh = _add_grad(xp, dh, g[t])
            rz, nn = rzs[t], ns[t]
            r, z = rz[:, :hidden], rz[:, hidden:]
            drz, dnp = dgx[t, :, :2 * hidden], dgx[t, :, 2 * hidden:]
            xp.multiply(dh, z, out=dz)
            xp.subtract(dh, dz, out=dnp)  # dnp = (dh - dz) * (1 - nn * nn)
            dnp *= xp.subtract(1, xp.multiply(nn, nn, out=tmp), out=tmp)
            xp.multiply(dnp, ghns[t], out=drz[:, :hidden])
            xp.multiply(dh, xp.subtract(h_prev, nn, out=tmp), out=drz[:, hidden:])
            drz *= rz
            drz *= xp.subtract(1, rz, out=gate)
            dgh[t, :, :2 * hidden] = drz
            xp.multiply(dnp, r, out=dgh[t, :, 2 * hidden:])
            dh = xp.matmul(dgh[t], w, out=dh)
            dh += dz
        dw = _weight_grad(F, dgh, _prev_states(F, h0, hs, self.reverse))
        return dgx, dh, dw, None if b is None else dgh.sum(axis=(0, 1))


# ---- functional forms ---------------------------------------------------------------------
def _project(x, w_ih, bias):
    """x (T, N, I) @ w_ih^T + bias as ONE matmul over all steps -> (T, N, G*H)."""
    return linear(x, w_ih, bias)


def _bias_sum(b_ih, b_hh):
    if b_ih is None or b_hh is None:
        return b_ih if b_hh is None else b_hh
    return b_ih + b_hh


def recurrent_layer(mode: str, x: Tensor, h0, w_ih, w_hh, b_ih=None, b_hh=None, c0=None,
                    reverse: bool = False):
    """One layer in one direction over ``x`` of shape (T, N, I).

    ``mode`` is 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'; weights are in PyTorch's layout
    (w_ih (G*H, I), w_hh (G*H, H)). ``h0``/``c0`` are (N, H) Tensors or arrays. Returns
    (output (T, N, H), h_n) and, for LSTM, (output, h_n, c_n). With ``reverse`` the sequence
    is read from the last step to the first; outputs stay aligned with the input steps.
    """
    n_steps = x.shape[0]
    last = 0 if reverse else n_steps - 1
    if mode == "GRU":
        out = GRUSequence.apply(_project(x, w_ih, b_ih), h0, w_hh, b_hh, reverse=reverse)
        return out, out[last]
    gx = _project(x, w_ih, _bias_sum(b_ih, b_hh))
    if mode == "LSTM":
        out = LSTMSequence.apply(gx, h0, c0, w_hh, reverse=reverse)
        return out[:n_steps], out[last], out[n_steps]
    if mode not in GATES:
        raise ValueError(f"recurrent_layer: unknown mode {mode!r}; expected one of "
                         f"{sorted(GATES)}")
    out = RNNSequence.apply(gx, h0, w_hh, reverse=reverse, relu=mode == "RNN_RELU")
    return out, out[last]


def _cell(mode, x, hx, w_ih, w_hh, b_ih, b_hh, c0=None):
    """One step: run the sequence primitive on a length-1 sequence of (N, I) inputs."""
    outs = recurrent_layer(mode, x.reshape((1,) + tuple(x.shape)), hx, w_ih, w_hh, b_ih, b_hh,
                           c0)
    return outs[1:]


def lstm_cell(input: Tensor, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step on (N, I) inputs; ``hx`` = (h, c); returns (h', c')."""
    return _cell("LSTM", input, hx[0], w_ih, w_hh, b_ih, b_hh, hx[1])


def gru_cell(input: Tensor, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step on (N, I) inputs; returns h'."""
    return _cell("GRU", input, hx, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_tanh_cell(input: Tensor, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One Elman step h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return _cell("RNN_TANH", input, hx, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input: Tensor, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One Elman step h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    return _cell("RNN_RELU", input, hx, w_ih, w_hh, b_ih, b_hh)[0]
