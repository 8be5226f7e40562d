"""Backpropagation by hand vs autograd, with the computational graphs drawn.

The six worked examples of ``nerve.demo`` (``python -m nerve demo``) compute each derivative
three ways: autograd, a staged backward pass written out by hand (one line per local
gradient times upstream gradient), and central finite differences. This script runs them,
checks that autograd equals the hand computation, and draws the graphs of the three scalar
circuits (CS231n's add-multiply circuit, the 2-input sigmoid neuron and the staged function
``(x + sigmoid(y)) / (sigmoid(x) + (x + y)^2)``) with the forward value (black) and the
gradient dL/dnode (red) on every node. The gradients of intermediate nodes are read with
hooks on the graph's nodes during ``backward``, exactly the "upstream gradients" of the
hand computation.

Figures: ``graph_NAME.png``/``.svg`` drawn with matplotlib, and ``graph_NAME.dot`` (Graphviz
text), rendered to ``graph_NAME.dot.svg`` when Graphviz's ``dot`` program is installed.

    python examples/backprop_by_hand.py [--quick] [--out DIR]
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy
from _common import Timer, figure, main_for, note_once, out_dir, save, write_result

import nerve
from nerve import demo
from nerve.autograd.engine import topological_order

NAME = "backprop_by_hand"
BINARY = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Pow": "^"}

# name -> (function of scalar tensors, {leaf name: value}); the functions are demo's own
CIRCUITS = {
    "add_mul": (lambda x, y, z: (x + y) * z, {"x": -2.0, "y": 5.0, "z": -4.0}),
    "sigmoid_neuron": (lambda w0, w1, w2, x0, x1: demo._neuron([w0, w1, w2], [x0, x1]),
                       {"w0": 2.0, "w1": -3.0, "w2": -3.0, "x0": -1.0, "x1": -2.0}),
    "staged": (demo._staged_f, {"x": 3.0, "y": -4.0}),
}


def _num(value) -> str:
    return f"{float(value):.4g}"


def trace(f, leaves: dict) -> dict:
    """Run ``f`` on float64 leaves and backward; every node's value and gradient.

    Returns {"nodes": [{"id", "label", "kind", "value", "grad", "inputs": [ids]}],
    "output": id}; kinds are "leaf", "op" and "output" (the last op)."""
    tensors = {k: nerve.tensor(v, dtype=nerve.float64, requires_grad=True)
               for k, v in leaves.items()}
    out = f(*tensors.values())
    order = topological_order([out.grad_fn])  # consumers first
    grads = {}
    for node in order:  # hooks on a node see the gradient of its output
        def capture(g, key=id(node)):
            grads[key] = float(g.numpy())
        node.hooks = [*(node.hooks or []), capture]
    out.backward(retain_graph=True)  # keep node.inputs to draw the edges
    names = {id(t): k for k, t in tensors.items()}
    nodes = [{"id": f"t_{k}", "label": k, "kind": "leaf", "value": float(t.item()),
              "grad": float(t.grad.item()), "inputs": []} for k, t in tensors.items()]
    ids = {id(node): f"op{i}" for i, node in enumerate(reversed(order))}
    for node in reversed(order):  # inputs before consumers
        parts, inputs = [], []
        for t in node.inputs:
            if isinstance(t, nerve.Tensor):
                parts.append("·")
                inputs.append(ids[id(t.grad_fn)] if t.grad_fn is not None
                              else f"t_{names[id(t)]}")
            else:
                parts.append(_num(t))
        op = node.name
        label = (f"{parts[0]} {BINARY[op]} {parts[1]}" if op in BINARY and len(parts) == 2
                 else "-·" if op == "Neg" else op.lower())
        nodes.append({"id": ids[id(node)], "label": label, "op": op,
                      "kind": "output" if node is out.grad_fn else "op",
                      "value": float(numpy.asarray(node.out)), "grad": grads[id(node)],
                      "inputs": inputs})
    return {"nodes": nodes, "output": ids[id(out.grad_fn)], "value": float(out.item())}


def to_dot(graph: dict) -> str:
    """Graphviz text: one box per op, one ellipse per input, value and gradient on each."""
    lines = ["digraph backprop {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    colour = {"leaf": "#dbe9f6", "op": "#ffffff", "output": "#fde2c8"}
    for n in graph["nodes"]:
        shape = "ellipse" if n["kind"] == "leaf" else "box"
        label = (f'<{n["label"]}<br/><font point-size="10">{_num(n["value"])}</font><br/>'
                 f'<font point-size="10" color="red">grad {_num(n["grad"])}</font>>')
        lines.append(f'  {n["id"]} [label={label}, shape={shape}, style="rounded,filled", '
                     f'fillcolor="{colour[n["kind"]]}"];')
    for n in graph["nodes"]:
        lines += [f"  {src} -> {n['id']};" for src in n["inputs"]]
    return "\n".join(lines + ["}"]) + "\n"


def layout(graph: dict) -> dict:
    """(x, y) per node: ops at their longest path from the inputs, each input just left of
    its first consumer; within a column, nodes sorted by the height of their consumers."""
    depth, consumers = {}, {}
    for n in graph["nodes"]:  # inputs come before their consumers
        depth[n["id"]] = 1 + max((depth[i] for i in n["inputs"]), default=-1)
        for i in n["inputs"]:
            consumers.setdefault(i, []).append(n["id"])
    for n in graph["nodes"]:
        if n["kind"] == "leaf":
            depth[n["id"]] = min(depth[c] for c in consumers[n["id"]]) - 1
    columns = {}
    for n in graph["nodes"]:
        columns.setdefault(depth[n["id"]], []).append(n["id"])
    pos = {}
    for d in sorted(columns, reverse=True):  # from the output back to the inputs
        members = sorted(columns[d], key=lambda i: -numpy.mean(
            [pos[c][1] for c in consumers.get(i, ())] or [0.0]))
        for k, node_id in enumerate(members):
            pos[node_id] = (d, (len(members) - 1) / 2 - k)
    return pos


def draw(graph: dict, title: str, path_stem: Path) -> list[str]:
    """The graph with matplotlib (PNG and SVG); [] without matplotlib."""
    pos = layout(graph)
    width = max(x for x, _ in pos.values()) + 1
    height = max(abs(y) for _, y in pos.values()) * 2 + 1
    fig, ax = figure(figsize=(1.9 * width + 1, 1.3 * height + 1.2))
    if fig is None:
        return []
    from matplotlib.patches import FancyBboxPatch

    colour = {"leaf": "#dbe9f6", "op": "#ffffff", "output": "#fde2c8"}
    bw, bh = 0.36, 0.3  # half sizes of a node's box
    for n in graph["nodes"]:
        x, y = pos[n["id"]]
        for src in n["inputs"]:
            sx, sy = pos[src]
            ax.annotate("", xy=(x - bw, y), xytext=(sx + bw, sy),
                        arrowprops={"arrowstyle": "->", "color": "0.4", "lw": 1})
        ax.add_patch(FancyBboxPatch((x - bw, y - bh), 2 * bw, 2 * bh,
                                    boxstyle="round,pad=0.02", fc=colour[n["kind"]], ec="0.3"))
        ax.text(x, y + 0.14, n["label"], ha="center", va="center", fontsize=10,
                fontweight="bold")
        ax.text(x, y - 0.02, _num(n["value"]), ha="center", va="center", fontsize=9)
        ax.text(x, y - 0.17, f"grad {_num(n['grad'])}", ha="center", va="center", fontsize=9,
                color="tab:red")
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{title}\nforward value (black), gradient d out / d node (red)",
                 fontsize=10)
    png = save(fig, path_stem.with_suffix(".png"), also=(".svg",))
    return [png, str(path_stem.with_suffix(".svg"))]


def render_dot(source: str, path: Path) -> list[str]:
    """Write the DOT text, and an SVG of it when Graphviz's ``dot`` is installed."""
    path.write_text(source)
    written = [str(path)]
    dot = shutil.which("dot")
    if dot is None:
        note_once("Graphviz's `dot` program is not installed: wrote the .dot files only "
                  "(render them with `dot -Tsvg FILE.dot -o FILE.svg`)")
        return written
    svg = path.with_suffix(".dot.svg")
    result = subprocess.run([dot, "-Tsvg", str(path), "-o", str(svg)], capture_output=True)
    if result.returncode == 0:
        written.append(str(svg))
    return written


def run(quick: bool = False, out=None) -> dict:
    out = out_dir(out, NAME)
    with Timer() as t:
        examples = [make() for make in demo.EXAMPLES]
        graphs = {name: trace(f, leaves) for name, (f, leaves) in CIRCUITS.items()}
    report = "\n\n".join(demo.format_example(i, ex) for i, ex in enumerate(examples, 1))
    (out / "worked_examples.txt").write_text(report + "\n")
    print(report)
    rows = []
    for ex in examples:
        for r in ex.rows:
            diff = (None if r.by_hand is None else
                    float(numpy.max(numpy.abs(numpy.asarray(r.autograd, dtype=float)
                                              - numpy.asarray(r.by_hand, dtype=float)))))
            rows.append({"example": ex.title, "derivative": r.name, "autograd": r.autograd,
                         "by_hand": r.by_hand, "numeric": r.numeric,
                         "max_abs_diff_autograd_vs_hand": diff})
    worst = max(r["max_abs_diff_autograd_vs_hand"] for r in rows
                if r["max_abs_diff_autograd_vs_hand"] is not None)
    figures = {}
    for name, graph in graphs.items():
        figures[name] = render_dot(to_dot(graph), out / f"graph_{name}.dot")
        figures[name] += draw(graph, CIRCUITS_TITLES[name], out / f"graph_{name}")
    print(f"largest |autograd - by hand| over all examples: {worst:.2e}")
    return write_result(
        out, NAME, quick=quick, data="the six worked examples of nerve.demo (float64)",
        metric="max |autograd - hand-derived| over all derivatives", value=worst,
        wall_time_s=t.seconds, details={"rows": rows, "graphs": graphs, "figures": figures})


CIRCUITS_TITLES = {"add_mul": "f(x, y, z) = (x + y) z",
                   "sigmoid_neuron": "f = sigmoid(w0 x0 + w1 x1 + w2)",
                   "staged": "f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)^2)"}


def main(argv=None):
    return main_for(run, NAME, argv, __doc__)


if __name__ == "__main__":
    main()
