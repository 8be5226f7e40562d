"""Backpropagation through time: how far back does the gradient reach, RNN vs LSTM?

The loss is read at the last step T of a sequence, ``L = <h_T, r>`` with a fixed random
``r``; backprop through time gives ``dL/dx_t`` for every earlier input. In a vanilla RNN,
``h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)``, each step back multiplies the gradient by
``W_hh^T diag(tanh')``, whose norm is below 1 at the usual initialization, so the gradient
decays exponentially with the distance T - t (Bengio, Simard & Frasconi, 1994; Hochreiter,
1991). An LSTM's cell state ``c_t = f_t * c_{t-1} + i_t * g_t`` is an additive path: each step
back multiplies the gradient by the forget gate ``f_t`` only (Hochreiter & Schmidhuber, 1997).
With the customary forget-gate bias of 1 (Gers et al., 2000; Jozefowicz et al., 2015),
``f ~ sigmoid(1) = 0.73`` and the gradient reaches much further back; with the all-uniform
default init (``f ~ 0.5``) the LSTM is shown too.

Both nets are unrolled step by step with ``nn.RNNCell``/``nn.LSTMCell`` at initialization
(hidden size 64, inputs N(0, 1), a batch of 16 sequences).

    python examples/bptt_gradients.py [--quick] [--out DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result

import nerve
from nerve import nn

NAME = "bptt_gradients"
INPUT, HIDDEN, BATCH = 8, 64, 16


def make_cell(kind: str):
    if kind == "rnn (tanh)":
        return nn.RNNCell(INPUT, HIDDEN, nonlinearity="tanh")
    cell = nn.LSTMCell(INPUT, HIDDEN)
    if kind == "lstm (forget bias 1)":
        with nerve.no_grad():  # gates are ordered i, f, g, o
            b = cell.bias_ih.detach().numpy().copy()
            b[HIDDEN:2 * HIDDEN] = 1.0
            cell.bias_ih.data[...] = b
            cell.bias_hh.data[HIDDEN:2 * HIDDEN] = 0.0
    return cell


def gradient_vs_distance(kind: str, steps: int) -> dict:
    """``||dL/dx_t||`` and ``||dL/d state_t||`` (h for the RNN, c for the LSTM) for every t."""
    cell = make_cell(kind)
    xs = [nerve.randn(BATCH, INPUT, requires_grad=True) for _ in range(steps)]
    h = nerve.zeros(BATCH, HIDDEN)
    c = nerve.zeros(BATCH, HIDDEN)
    states = []
    for x in xs:
        if kind.startswith("rnn"):
            h = cell(x, h)
            state = h
        else:
            h, c = cell(x, (h, c))
            state = c
        state.retain_grad()
        states.append(state)
    r = nerve.randn(BATCH, HIDDEN)
    (h * r).sum().backward()
    # index by distance T - t: 0 is the last step
    x_norms = [float(numpy.linalg.norm(x.grad.numpy())) for x in reversed(xs)]
    # (the fused LSTM cell computes h_T from c_T inside one op: c_T itself gets no .grad)
    s_norms = [float("nan") if s.grad is None else float(numpy.linalg.norm(s.grad.numpy()))
               for s in reversed(states)]
    return {"input_grad_norm": x_norms, "state_grad_norm": s_norms}


def decay_per_step(norms, start: int = 1) -> float:
    """Per-step factor of a least-squares fit of log ||grad|| against the distance."""
    d = numpy.arange(start, len(norms))
    v = numpy.log(numpy.maximum(numpy.asarray(norms[start:]), 1e-300))
    return float(numpy.exp(numpy.polyfit(d, v, 1)[0]))


KINDS = ("rnn (tanh)", "lstm (default init)", "lstm (forget bias 1)")


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    seed(0)
    steps = 40 if quick else 100
    runs = {}
    with Timer() as t:
        for kind in KINDS:
            nerve.manual_seed(1)
            r = gradient_vs_distance(kind, steps)
            norms = r["input_grad_norm"]
            r["relative_input_grad"] = [n / norms[0] for n in norms]
            r["decay_per_step"] = decay_per_step(norms)
            r["steps_to_1e-3"] = next((d for d, v in enumerate(r["relative_input_grad"])
                                       if v < 1e-3), None)
            runs[kind] = r
            print(f"{kind:21s} ||dL/dx_(T-k)|| shrinks by {r['decay_per_step']:.3f} per step; "
                  f"below 1e-3 of ||dL/dx_T|| after {r['steps_to_1e-3']} steps")
    figures = {}
    fig, axes = figure(1, 2, figsize=(11, 4), squeeze=False)
    if fig is not None:
        ax1, ax2 = axes[0]
        for kind, r in runs.items():
            ax1.semilogy(r["relative_input_grad"], label=kind)
            ax2.semilogy(r["state_grad_norm"], label=kind)
        ax1.set_ylabel("||dL/dx_t|| / ||dL/dx_T||")
        ax2.set_ylabel("||dL/dh_t|| (RNN), ||dL/dc_t|| (LSTM)")
        for ax in (ax1, ax2):
            ax.set_xlabel("distance in time T - t")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        ax1.set_title("Gradient of the last step's loss w.r.t. earlier inputs", fontsize=10)
        ax2.set_title("... and w.r.t. earlier states", fontsize=10)
        figures["bptt"] = save(fig, out / "bptt_gradients.png")
    rnn, lstm = runs["rnn (tanh)"], runs["lstm (forget bias 1)"]
    return write_result(
        out, NAME, quick=quick, data=f"random N(0,1) sequences, T = {steps}, batch {BATCH}, "
        f"input {INPUT}, hidden {HIDDEN}, at initialization",
        metric="per-step gradient decay factor, RNN vs LSTM (forget bias 1)",
        value={"rnn": rnn["decay_per_step"], "lstm": lstm["decay_per_step"]},
        wall_time_s=t.seconds, details={"steps": steps, "runs": runs, "figures": figures})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
