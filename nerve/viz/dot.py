"""Draw the graph that produced a tensor as Graphviz DOT text (and render it to a file).

One box per operation (its name and output shape), one ellipse per leaf tensor (its name,
shape, and optionally its value and ``.grad``), one ellipse for the tensor drawn, and edges
input -> op -> output. The graph is walked iteratively, so deep graphs are fine.

``backward()`` frees the graph it used (each node's inputs and saved values) unless called
with ``retain_graph=True``; to draw values and gradients after backward, run
``loss.backward(retain_graph=True)`` first. ``to_dot`` raises if it meets a freed node.
"""
from __future__ import annotations

import shutil
import subprocess

import numpy

from ..autograd.tensor import Tensor

__all__ = ["render", "to_dot"]

FREED = ("to_dot: the graph was freed by backward() (its nodes no longer know their inputs); "
         "call backward(retain_graph=True) to draw the graph, its values and its gradients "
         "after backward")


def _to_numpy(array):
    return array if isinstance(array, numpy.ndarray) else array.get()


def _format_array(array) -> str:
    a = _to_numpy(array)
    if a.ndim == 0:
        return f"{a.item():.4g}"
    return numpy.array2string(a, precision=4, threshold=12, edgeitems=2, separator=", ")


def _quote(text: str) -> str:
    """A DOT double-quoted string; newlines become DOT's centred line breaks."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def _shape(shape) -> str:
    return str(tuple(int(n) for n in shape))


def _tensor_label(t: Tensor, name: str | None, show_values: bool, show_grads: bool) -> str:
    lines = [name] if name else []
    lines.append(_shape(t.shape))
    if show_values:
        lines.append("value " + _format_array(t.data))
    if show_grads and (t.grad is not None or t.is_leaf):
        lines.append("grad " + ("None" if t.grad is None else _format_array(t.grad.data)))
    return "\n".join(lines)


def to_dot(tensor: Tensor, params: dict | None = None, show_values: bool = False,
           show_grads: bool = False) -> str:
    """Graphviz DOT text of the graph that produced ``tensor``.

    Leaves are named from ``params`` (a ``{name: tensor}`` dict such as
    ``dict(model.named_parameters())``) or from ``tensor._name``. With ``show_values`` each
    box and ellipse shows its forward value, with ``show_grads`` each tensor shows ``.grad``.

    >>> import nerve
    >>> x = nerve.tensor(-2.0, requires_grad=True)
    >>> y = nerve.tensor(5.0, requires_grad=True)
    >>> print(to_dot(x + y, params={"x": x, "y": y}).splitlines()[0])
    digraph nerve {
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    names = {id(t): name for name, t in (params or {}).items()}

    def name_of(t, default=None):
        return names.get(id(t)) or t._name or default

    lines = ["digraph nerve {", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=10];']
    ids: dict = {}  # id(node or leaf tensor) -> DOT id: op0, op1, ... and t0, t1, ...
    counts = {"op": 0, "t": 0}
    edges: list[str] = []

    def new_id(key, prefix) -> str:
        ids[key] = f"{prefix}{counts[prefix]}"
        counts[prefix] += 1
        return ids[key]

    def leaf_id(t) -> str:
        key = id(t)
        if key not in ids:
            new_id(key, "t")
            style = "filled" if t._rg else "dashed"
            label = _tensor_label(t, name_of(t), show_values, show_grads)
            lines.append(f'  {ids[key]} [label={_quote(label)}, shape=ellipse, style={style}, '
                         'fillcolor="#dbe9f6"];')
        return ids[key]

    out_id = "out"
    root = tensor.grad_fn
    if root is None:
        label = _tensor_label(tensor, name_of(tensor, "output"), show_values, show_grads)
        lines.append(f"  {out_id} [label={_quote(label)}, shape=ellipse, style=filled, "
                     'fillcolor="#fde2c8"];')
        return "\n".join(lines + ["}"]) + "\n"
    stack = [root]
    new_id(id(root), "op")
    while stack:
        node = stack.pop()
        if node.inputs is None:
            raise RuntimeError(FREED)
        label = f"{node.name}\n{_shape(node.out.shape)}"
        if show_values:
            label += "\n" + _format_array(node.out)
        lines.append(f"  {ids[id(node)]} [label={_quote(label)}, shape=box, style=rounded];")
        for t in node.inputs:
            if not isinstance(t, Tensor):
                continue  # Python numbers and raw arrays are constants of the op
            fn = t.grad_fn
            if fn is None:
                src = leaf_id(t)
            else:
                if id(fn) not in ids:
                    new_id(id(fn), "op")
                    stack.append(fn)
                src = ids[id(fn)]
            edges.append(f"  {src} -> {ids[id(node)]};")
    label = _tensor_label(tensor, name_of(tensor, "output"), show_values, show_grads)
    lines.append(f"  {out_id} [label={_quote(label)}, shape=ellipse, style=filled, "
                 'fillcolor="#fde2c8"];')
    edges.append(f"  {ids[id(root)]} -> {out_id};")
    return "\n".join(lines + edges + ["}"]) + "\n"


def render(tensor: Tensor, path, format: str = "svg", **kwargs) -> str:
    """Write the graph of ``tensor`` to ``path`` as ``format`` (svg, png, pdf, or dot).

    Uses the ``graphviz`` Python package when installed, else the ``dot`` program if it is on
    PATH. ``kwargs`` go to ``to_dot``. Returns ``path``.
    """
    source = to_dot(tensor, **kwargs)
    path = str(path)
    if format in ("dot", "gv"):
        data = source.encode()
    else:
        data = _layout(source, format)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _layout(source: str, format: str) -> bytes:
    try:
        import graphviz
    except ImportError:
        graphviz = None
    if graphviz is not None:
        return graphviz.Source(source).pipe(format=format)
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            f"render: drawing {format} needs Graphviz: `pip install graphviz` (the Python "
            "package) together with the Graphviz programs (e.g. `apt-get install graphviz`), "
            "or use to_dot() / format='dot' to get the DOT text")
    result = subprocess.run([dot, f"-T{format}"], input=source.encode(), capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"render: `dot -T{format}` failed: "
                           f"{result.stderr.decode(errors='replace').strip()}")
    return result.stdout
