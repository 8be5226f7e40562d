"""Initialization: forward signals and gradients through a 50-layer network.

A deep fully connected net ``h_l = act(W_l h_{l-1})`` (square layers of width d, no biases)
multiplies the activation variance by about ``d Var(W) * c`` per layer, where ``c`` is what
the nonlinearity keeps (1 for tanh near 0, 1/2 for ReLU); backward, the gradient variance
gets the same factor. Anything but a factor of 1 compounds exponentially over 50 layers:

- too small (std 0.01): signals and gradients vanish,
- too large (std 1.0): ReLU signals and gradients explode; a tanh net saturates (almost
  every unit at +-1: the output no longer depends on the input's details) and, backward,
  its gradients still grow by about 8 per layer (d Var(W) E[tanh'(z)^2] with z ~ N(0, 256)),
- Xavier/Glorot (Var = 2 / (fan_in + fan_out)) keeps tanh nets stable but halves a ReLU
  net's variance per layer,
- Kaiming/He (Var = gain^2 / fan_in, gain sqrt(2) for ReLU, 5/3 for tanh) keeps both stable.

The input is a batch of N(0, 1) vectors; the loss is ``sum(h_L * r)`` with a fixed random
``r``, so the top gradient is O(1) whatever the scale of ``h_L``. Computed in float64 (the
exploding ReLU net reaches ~1e100).

    python examples/initialization.py [--quick] [--out DIR]
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, out_dir, save, seed, write_result

import nerve
from nerve.nn import init

NAME = "initialization"
INITS = ("too small (std 0.01)", "too large (std 1.0)", "Xavier", "Kaiming")
ACTIVATIONS = {"tanh": nerve.tanh, "relu": nerve.relu}


def make_weight(scheme: str, width: int, activation: str):
    w = nerve.empty(width, width, dtype=nerve.float64)
    if scheme.startswith("too small"):
        init.normal_(w, 0.0, 0.01)
    elif scheme.startswith("too large"):
        init.normal_(w, 0.0, 1.0)
    elif scheme == "Xavier":
        init.xavier_normal_(w)
    else:
        init.kaiming_normal_(w, mode="fan_in", nonlinearity=activation)
    return w.requires_grad_()


def profile(scheme: str, activation: str, depth: int = 50, width: int = 256,
            batch: int = 256) -> dict:
    """Per-layer variance of the activations h_l and of the gradients dL/dh_l."""
    act = ACTIVATIONS[activation]
    h = nerve.randn(batch, width, dtype=nerve.float64)
    hs = []
    for _ in range(depth):
        h = act(nerve.matmul(h, make_weight(scheme, width, activation)))
        h.retain_grad()
        hs.append(h)
    r = nerve.randn(batch, width, dtype=nerve.float64)
    (h * r).sum().backward()
    last = numpy.abs(hs[-1].detach().numpy())
    return {"activation_var": [float(t.detach().numpy().var()) for t in hs],
            "gradient_var": [float(t.grad.numpy().var()) for t in hs],
            "saturated_fraction": float((last > 0.99).mean()) if activation == "tanh" else None}


def growth_per_layer(values) -> float:
    """Geometric-mean factor per layer from the first to the last layer (0 if it vanished)."""
    first, last = values[0], values[-1]
    if first <= 0 or last <= 0:
        return 0.0
    return math.exp((math.log(last) - math.log(first)) / (len(values) - 1))


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    seed(0)
    width = 128 if quick else 256
    results = {}
    with Timer() as t:
        for activation in ACTIVATIONS:
            for scheme in INITS:
                p = profile(scheme, activation, width=width, batch=width)
                p["activation_ratio"] = p["activation_var"][-1] / p["activation_var"][0]
                p["gradient_ratio"] = p["gradient_var"][0] / p["gradient_var"][-1]
                p["activation_factor_per_layer"] = growth_per_layer(p["activation_var"])
                # backward: from layer 50 down to layer 1
                p["gradient_factor_per_layer"] = growth_per_layer(p["gradient_var"][::-1])
                results[f"{activation} / {scheme}"] = p
                print(f"{activation:4s} {scheme:22s} Var(h_50)/Var(h_1) = "
                      f"{p['activation_ratio']:9.2e}   Var(g_1)/Var(g_50) = "
                      f"{p['gradient_ratio']:9.2e}")
    figures = {}
    fig, axes = figure(2, 2, figsize=(10, 7), squeeze=False)
    if fig is not None:
        for col, activation in enumerate(ACTIVATIONS):
            for row, key in enumerate(("activation_var", "gradient_var")):
                ax = axes[row][col]
                for scheme in INITS:
                    values = numpy.maximum(results[f"{activation} / {scheme}"][key], 1e-300)
                    ax.semilogy(range(1, len(values) + 1), values, label=scheme)
                what = "activations h_l" if key == "activation_var" else "gradients dL/dh_l"
                ax.set_title(f"{activation} net: variance of {what}", fontsize=10)
                ax.set_xlabel("layer l")
                ax.grid(True, alpha=0.3)
        axes[0][0].legend(fontsize=8)
        figures["variance"] = save(fig, out / "initialization.png")
    kaiming = results["relu / Kaiming"]["activation_ratio"]
    return write_result(
        out, NAME, quick=quick, data=f"N(0,1) inputs, 50 layers of width {width}",
        metric="Var(h_50)/Var(h_1), ReLU net, Kaiming init", value=kaiming,
        wall_time_s=t.seconds,
        details={"runs": {k: {m: v for m, v in p.items()} for k, p in results.items()},
                 "figures": figures})


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
