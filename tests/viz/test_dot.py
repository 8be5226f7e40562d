"""nerve.viz: DOT text of autograd graphs, and rendering through graphviz or the dot program."""
import os
import re
import shutil
import sys
import types

import pytest

import nerve
from nerve.viz import render, to_dot

NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+);$")


def parse(dot):
    """{dot id: label lines}, [(src, dst)], {dot id: attributes}."""
    assert dot.startswith("digraph nerve {") and dot.rstrip().endswith("}")
    nodes, edges, attrs = {}, [], {}
    for line in dot.splitlines()[1:-1]:
        if m := NODE.match(line):
            nodes[m.group(1)] = m.group(2).split("\\n")
            attrs[m.group(1)] = m.group(3)
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2)))
    return nodes, edges, attrs


def named_edges(dot):
    nodes, edges, _ = parse(dot)
    return sorted((nodes[a][0], nodes[b][0]) for a, b in edges)


def cs231n():
    x = nerve.tensor(-2.0, requires_grad=True)
    y = nerve.tensor(5.0, requires_grad=True)
    z = nerve.tensor(-4.0, requires_grad=True)
    return x, y, z, (x + y) * z


def test_structure_of_x_plus_y_times_z():
    x, y, z, f = cs231n()
    nodes, edges, attrs = parse(to_dot(f, params={"x": x, "y": y, "z": z}))
    assert len(nodes) == 6 and len(edges) == 5
    assert sorted(n[0] for n in nodes.values()) == ["Add", "Mul", "output", "x", "y", "z"]
    assert sum("shape=box" in a for a in attrs.values()) == 2
    assert named_edges(to_dot(f, params={"x": x, "y": y, "z": z})) == [
        ("Add", "Mul"), ("Mul", "output"), ("x", "Add"), ("y", "Add"), ("z", "Mul")]
    for label in nodes.values():
        assert label[1] == "()"  # every tensor here is 0-d
        assert len(label) == 2  # no values or grads unless asked


def test_values_and_grads_appear_when_requested():
    x, y, z, f = cs231n()
    f.backward(retain_graph=True)
    params = {"x": x, "y": y, "z": z}
    nodes, _, _ = parse(to_dot(f, params=params, show_values=True, show_grads=True))
    by_name = {label[0]: label[1:] for label in nodes.values()}
    assert by_name["x"] == ["()", "value -2", "grad -4"]
    assert by_name["y"] == ["()", "value 5", "grad -4"]
    assert by_name["z"] == ["()", "value -4", "grad 3"]
    assert by_name["Add"] == ["()", "3"]
    assert by_name["Mul"] == ["()", "-12"]
    assert by_name["output"] == ["()", "value -12"]
    values_only = parse(to_dot(f, params=params, show_values=True))[0]
    assert not any(line.startswith("grad") for label in values_only.values() for line in label)
    grads_only = parse(to_dot(f, params=params, show_grads=True))[0]
    assert not any(line.startswith("value") for label in grads_only.values() for line in label)


def test_freed_graph_raises_and_names_retain_graph():
    _, _, _, f = cs231n()
    f.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        to_dot(f)


def test_names_from_tensor_name_and_shapes_and_constants():
    w = nerve.ones(2, 3, requires_grad=True)
    w._name = 'W"1'
    c = nerve.ones(3)  # a constant tensor input: dashed, unnamed
    dot = to_dot((w * 3 + c).sum(), show_values=True)
    nodes, edges, attrs = parse(dot)
    assert ['W\\"1', "(2, 3)", "value [[1., 1., 1.],", " [1., 1., 1.]]"] in nodes.values()
    const = [k for k, n in nodes.items() if n[0] == "(3,)"]
    assert len(const) == 1 and "style=dashed" in attrs[const[0]]
    assert "value [1., 1., 1.]" in nodes[const[0]]
    assert sorted(n[0] for n in nodes.values() if len(n) and n[0][0].isupper()) == [
        "Add", "Mul", "Sum", 'W\\"1']
    assert len(edges) == 5


def test_shared_subexpression_is_drawn_once():
    x = nerve.tensor([1.0, 2.0], requires_grad=True)
    a = x.exp()
    out = (a * a + a).sum()
    nodes, edges, _ = parse(to_dot(out, params={"x": x}))
    names = sorted(n[0] for n in nodes.values())
    assert names == ["Add", "Exp", "Mul", "Sum", "output", "x"]
    exp_id = next(k for k, n in nodes.items() if n[0] == "Exp")
    assert sum(1 for a_, _ in edges if a_ == exp_id) == 3  # into Mul twice and into Add


def test_deep_graph_needs_no_recursion():
    x = nerve.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3 * sys.getrecursionlimit()):
        y = y * 1.0
    nodes, edges, _ = parse(to_dot(y))
    assert len(nodes) == 3 * sys.getrecursionlimit() + 2
    assert len(edges) == len(nodes) - 1


def test_leaf_tensor_is_one_node():
    x = nerve.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges, _ = parse(to_dot(x, params={"x": x}, show_values=True))
    assert list(nodes.values()) == [["x", "(2,)", "value [1., 2.]"]] and edges == []
    with pytest.raises(TypeError, match="expected a Tensor"):
        to_dot([1.0])


# ---- render -----------------------------------------------------------------------------------
@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    monkeypatch.setattr(shutil, "which", lambda name: None)


def test_render_dot_format_needs_no_graphviz(tmp_path, no_graphviz):
    _, _, _, f = cs231n()
    path = render(f, tmp_path / "g.dot", format="dot")
    assert open(path).read() == to_dot(f)


def test_render_without_graphviz_names_pip_install(tmp_path, no_graphviz):
    _, _, _, f = cs231n()
    with pytest.raises(RuntimeError, match="pip install graphviz"):
        render(f, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


def test_render_uses_graphviz_package(tmp_path, monkeypatch):
    calls = []

    class Source:
        def __init__(self, source):
            self.source = source

        def pipe(self, format):
            calls.append(format)
            return f"<{format}>{self.source}".encode()

    monkeypatch.setitem(sys.modules, "graphviz", types.SimpleNamespace(Source=Source))
    x, y, z, f = cs231n()
    render(f, tmp_path / "g.png", format="png", params={"x": x})
    assert calls == ["png"]
    assert (tmp_path / "g.png").read_text() == "<png>" + to_dot(f, params={"x": x})


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as a fake dot")
def test_render_falls_back_to_dot_program(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nprintf "%s:" "$1"\ncat\n')
    fake.chmod(0o755)
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ.get("PATH", ""))
    _, _, _, f = cs231n()
    render(f, tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_text() == "-Tsvg:" + to_dot(f)


def test_render_with_real_graphviz(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("the Graphviz dot program is not installed")
    _, _, _, f = cs231n()
    render(f, tmp_path / "g.svg")
    assert "<svg" in (tmp_path / "g.svg").read_text()
