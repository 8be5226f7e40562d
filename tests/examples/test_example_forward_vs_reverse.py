"""examples/forward_vs_reverse.py: n JVPs and one VJP give the same gradient."""

import numpy
from _load import load_example


def load():
    module = load_example("forward_vs_reverse")
    return module


def test_jvps_and_vjp_agree_and_jvp_passes_grow_with_n(tmp_path):
    result = load().run(quick=True, out=tmp_path)
    rows = result["details"]["rows"]
    assert [r["n"] for r in rows] == [2, 4, 8, 16, 32]
    for r in rows:
        assert r["max_abs_diff"] < 1e-12
        assert r["jvp_passes"] == r["n"]  # one forward pass per parameter
        assert r["vjp_passes"] == 1  # one reverse pass for the whole gradient
    assert (tmp_path / "result.json").is_file()


def test_gradient_matches_the_closed_form():
    ex = load()
    rng = numpy.random.default_rng(1)
    A, b, w = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=3)
    import nerve

    f = ex.Counted(nerve.tensor(A), nerve.tensor(b))
    z = numpy.tanh(A @ w + b)
    closed = A.T @ (2 * z * (1 - z ** 2)) / 5  # d/dw mean(tanh(Aw + b)^2)
    wt = nerve.tensor(w)
    numpy.testing.assert_allclose(ex.gradient_by_vjp(f, wt), closed, rtol=1e-10)
    numpy.testing.assert_allclose(ex.gradient_by_jvps(f, wt), closed, rtol=1e-10)
