"""examples/backprop_by_hand.py: autograd equals the hand computation, node by node."""
import math

import numpy
import pytest
from _load import load_example


@pytest.fixture(scope="module")
def example():
    module = load_example("backprop_by_hand")
    return module


def test_autograd_equals_the_hand_derivation_in_every_worked_example(example, tmp_path):
    result = example.run(quick=True, out=tmp_path)
    rows = result["details"]["rows"]
    assert len({r["example"] for r in rows}) == 6
    for r in rows:
        if r["by_hand"] is not None:
            numpy.testing.assert_allclose(r["autograd"], r["by_hand"], rtol=1e-9, atol=1e-12)
        if r["numeric"] is not None:
            numpy.testing.assert_allclose(r["autograd"], r["numeric"], rtol=1e-4, atol=1e-6)
    assert result["value"] < 1e-9
    for name in example.CIRCUITS:
        assert (tmp_path / f"graph_{name}.dot").read_text().startswith("digraph")


def by_label(graph, label):
    return [n for n in graph["nodes"] if n["label"] == label]


def test_add_mul_circuit_values_and_upstream_gradients(example):
    g = example.trace(*example.CIRCUITS["add_mul"])
    (add,) = by_label(g, "· + ·")
    (mul,) = by_label(g, "· * ·")
    assert (add["value"], add["grad"]) == (3.0, -4.0)  # q = x + y, df/dq = z
    assert (mul["value"], mul["grad"]) == (-12.0, 1.0)
    leaves = {n["label"]: n["grad"] for n in g["nodes"] if n["kind"] == "leaf"}
    assert leaves == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_sigmoid_neuron_gradient_at_the_dot_product_is_one_minus_f_times_f(example):
    g = example.trace(*example.CIRCUITS["sigmoid_neuron"])
    f = g["value"]
    assert f == pytest.approx(1 / (1 + math.exp(-1.0)))
    nodes = {n["id"]: n for n in g["nodes"]}
    (neg,) = by_label(g, "-·")
    dot = nodes[neg["inputs"][0]]  # w0 x0 + w1 x1 + w2
    assert dot["value"] == pytest.approx(1.0)
    assert dot["grad"] == pytest.approx((1 - f) * f)  # the sigmoid's local gradient
    leaves = {n["label"]: n["grad"] for n in g["nodes"] if n["kind"] == "leaf"}
    assert leaves["w0"] == pytest.approx(-1.0 * (1 - f) * f)  # x0 * d f/d dot
    assert leaves["x1"] == pytest.approx(-3.0 * (1 - f) * f)  # w1 * d f/d dot


def test_layout_puts_inputs_left_of_their_consumers(example):
    g = example.trace(*example.CIRCUITS["staged"])
    pos = example.layout(g)
    for n in g["nodes"]:
        for i in n["inputs"]:
            assert pos[i][0] < pos[n["id"]][0]
