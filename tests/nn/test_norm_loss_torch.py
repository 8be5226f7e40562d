"""Normalization layers and losses against PyTorch: outputs, input and parameter gradients,
running statistics after a few training steps, every reduction and option.

Skipped without PyTorch. One lambda serves both libraries (``lib`` is ``nerve`` or ``torch``),
since nerve's names and signatures are PyTorch's.
"""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn  # noqa: F401  (lib.nn below)

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: these tests compare nerve with it")
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")

TOL = {"float64": dict(rtol=1e-9, atol=1e-10), "float32": dict(rtol=1e-4, atol=1e-5)}
REDUCTIONS = ("none", "mean", "sum")


def rand(shape, seed=0, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale + loc


def to_numpy(t):
    return t.detach().numpy()  # the same call for nerve and torch tensors


def close(a, b, dtype="float64", what=""):
    np.testing.assert_allclose(to_numpy(a), to_numpy(b), err_msg=what, **TOL[dtype])


# ---- normalization layers -----------------------------------------------------------------------
LAYERS = {
    "bn1d_2d": (lambda lib: lib.nn.BatchNorm1d(3), (8, 3)),
    "bn1d_3d": (lambda lib: lib.nn.BatchNorm1d(3, momentum=0.3), (4, 3, 5)),
    "bn2d": (lambda lib: lib.nn.BatchNorm2d(3, eps=1e-3), (4, 3, 4, 4)),
    "bn2d_momentum_none": (lambda lib: lib.nn.BatchNorm2d(3, momentum=None), (2, 3, 3, 3)),
    "bn2d_no_affine": (lambda lib: lib.nn.BatchNorm2d(3, affine=False), (2, 3, 3, 3)),
    "bn2d_no_running_stats": (lambda lib: lib.nn.BatchNorm2d(3, track_running_stats=False),
                              (2, 3, 3, 3)),
    "layernorm": (lambda lib: lib.nn.LayerNorm((4, 5)), (2, 3, 4, 5)),
    "layernorm_no_bias": (lambda lib: lib.nn.LayerNorm(5, bias=False), (6, 5)),
    "layernorm_no_affine": (lambda lib: lib.nn.LayerNorm(5, elementwise_affine=False), (6, 5)),
    "rmsnorm": (lambda lib: lib.nn.RMSNorm(5), (2, 3, 5)),
    "rmsnorm_eps": (lambda lib: lib.nn.RMSNorm((3, 5), eps=1e-3), (2, 3, 5)),
    "groupnorm": (lambda lib: lib.nn.GroupNorm(2, 6), (3, 6, 4, 4)),
    "groupnorm_no_affine": (lambda lib: lib.nn.GroupNorm(3, 6, affine=False, eps=1e-3),
                            (2, 6, 5)),
}


def _pair_of_layers(name, dtype):
    make, shape = LAYERS[name]
    ours, ref = make(nerve), make(torch)
    ref = ref.to(getattr(torch, dtype))
    ours = ours.to(dtype)
    with torch.no_grad():  # non-trivial affine parameters
        for i, p in enumerate(ref.parameters()):
            p.copy_(torch.from_numpy(rand(tuple(p.shape), 10 + i, loc=1.0 - i)))
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    assert list(ours.state_dict()) == list(ref.state_dict())
    return ours, ref, shape


def _step(ours, ref, x, g, dtype, what):
    xn = nerve.tensor(x.astype(dtype), requires_grad=True)
    xt = torch.tensor(x.astype(dtype), requires_grad=True)
    out_n, out_t = ours(xn), ref(xt)
    close(out_n, out_t, dtype, f"{what}: output")
    (out_n * nerve.tensor(g.astype(dtype))).sum().backward()
    (out_t * torch.tensor(g.astype(dtype))).sum().backward()
    close(xn.grad, xt.grad, dtype, f"{what}: input gradient")
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        close(p.grad, q.grad, dtype, f"{what}: gradient of {name}")
        p.grad, q.grad = None, None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_against_torch(name, dtype):
    ours, ref, shape = _pair_of_layers(name, dtype)
    for step in range(3):  # training: batch statistics, running statistics updated
        _step(ours, ref, rand(shape, step, loc=step - 1.0, scale=1.0 + step),
              rand(shape, 100 + step), dtype, f"{name} train step {step}")
    for key, value in ref.state_dict().items():
        close(ours.state_dict()[key], value, dtype, f"{name}: {key} after training")
    ours.eval()
    ref.eval()
    _step(ours, ref, rand(shape, 7, loc=0.5), rand(shape, 8), dtype, f"{name} eval")


def test_batch_norm_functional_against_torch():
    x, w, b = rand((5, 4, 3), 0, 2.0), rand(4, 1), rand(4, 2)
    rm, rv = rand(4, 3), np.abs(rand(4, 4)) + 0.5
    for training in (True, False):
        outs, stats = [], []
        for lib in (nerve, torch):
            m, v = lib.tensor(rm.copy()), lib.tensor(rv.copy())
            outs.append(lib.nn.functional.batch_norm(lib.tensor(x), m, v, lib.tensor(w),
                                                     lib.tensor(b), training, 0.2, 1e-4))
            stats.append((m, v))
        close(outs[0], outs[1], what=f"training={training}")
        close(stats[0][0], stats[1][0])
        close(stats[0][1], stats[1][1])


# ---- losses -------------------------------------------------------------------------------------
def probs(shape, axis, seed):
    e = np.exp(rand(shape, seed))
    return e / e.sum(axis, keepdims=True)


def labels(shape, n, seed, special=None):
    y = np.random.default_rng(seed).integers(0, n, shape)
    if special is not None and y.ndim:
        y.flat[0] = special
    return y


# name -> (call(lib, *tensors, reduction), inputs [(array, requires_grad)])
W4 = np.array([0.5, 2.0, 1.0, 0.25])


def fn(name, **kwargs):
    """``lib.nn.functional.<name>(*args, **kwargs)`` for either library; arrays in kwargs
    become that library's tensors."""
    def call(lib, *args, reduction=None):
        dtype = args[0].dtype  # float options in the input's dtype, as torch requires
        kw = {k: lib.tensor(v).to(dtype) if isinstance(v, np.ndarray) else v
              for k, v in kwargs.items()}
        if reduction is not None:
            kw["reduction"] = reduction
        return getattr(lib.nn.functional, name)(*args, **kw)
    return call


X64 = (rand((6, 4), 0, scale=2.0), True)
LOSSES = {
    "ce": (fn("cross_entropy"), [X64, (labels(6, 4, 1), False)]),
    "ce_weight": (fn("cross_entropy", weight=W4), [X64, (labels(6, 4, 1), False)]),
    "ce_ignore": (fn("cross_entropy", ignore_index=2), [X64, (labels(6, 4, 1, 2), False)]),
    "ce_smoothing": (fn("cross_entropy", label_smoothing=0.2), [X64, (labels(6, 4, 1), False)]),
    "ce_all": (fn("cross_entropy", weight=W4, ignore_index=1, label_smoothing=0.15),
               [X64, (labels(6, 4, 1, 1), False)]),
    "ce_spatial": (fn("cross_entropy", weight=W4, label_smoothing=0.1, ignore_index=0),
                   [(rand((2, 4, 3, 2)), True), (labels((2, 3, 2), 4, 2, 0), False)]),
    "ce_unbatched": (fn("cross_entropy", label_smoothing=0.1), [(rand(4), True),
                                                               (np.array(2), False)]),
    "ce_probs": (fn("cross_entropy"), [X64, (probs((6, 4), 1, 3), True)]),
    "ce_probs_all": (fn("cross_entropy", weight=W4, label_smoothing=0.3),
                     [(rand((3, 4, 2)), True), (probs((3, 4, 2), 1, 3), True)]),
    "nll": (fn("nll_loss"), [(np.log(probs((6, 4), 1, 4)), True), (labels(6, 4, 1), False)]),
    "nll_weight_ignore": (fn("nll_loss", weight=W4, ignore_index=3),
                          [(rand((3, 4, 5)), True), (labels((3, 5), 4, 1, 3), False)]),
    "mse": (fn("mse_loss"), [(rand((3, 4)), True), (rand((3, 4), 1), True)]),
    "mse_weight": (fn("mse_loss", weight=np.abs(rand((3, 4), 2))),
                   [(rand((3, 4)), True), (rand((3, 4), 1), True)]),
    "l1": (fn("l1_loss"), [(rand((3, 4)), True), (rand((3, 4), 1), True)]),
    "l1_weight": (fn("l1_loss", weight=np.abs(rand((3, 4), 2))),
                  [(rand((3, 4)), True), (rand((3, 4), 1), True)]),
    "smooth_l1": (fn("smooth_l1_loss", beta=0.5), [(rand(12), True), (rand(12, 1), True)]),
    "smooth_l1_beta0": (fn("smooth_l1_loss", beta=0.0), [(rand(12), True), (rand(12, 1), True)]),
    "huber": (fn("huber_loss", delta=0.7), [(rand(12), True), (rand(12, 1), True)]),
    "huber_weight": (fn("huber_loss", delta=0.7, weight=np.abs(rand(12, 2))),
                     [(rand(12), True), (rand(12, 1), True)]),
    "bce": (fn("binary_cross_entropy"), [(probs((4, 3), 1, 0), True),
                                         (probs((4, 3), 0, 1), True)]),
    "bce_weight": (fn("binary_cross_entropy", weight=np.abs(rand(3, 2))),
                   [(probs((4, 3), 1, 0), True), (probs((4, 3), 0, 1), True)]),
    "bce_logits": (fn("binary_cross_entropy_with_logits"),
                   [(rand((4, 3), scale=3), True), (probs((4, 3), 0, 1), True)]),
    "bce_logits_weights": (fn("binary_cross_entropy_with_logits", weight=np.abs(rand((4, 1), 2)),
                              pos_weight=np.abs(rand(3, 3)) + 0.5),
                           [(rand((4, 3), scale=3), True), (probs((4, 3), 0, 1), True)]),
    "kl": (fn("kl_div"), [(np.log(probs((3, 5), 1, 0)), True), (probs((3, 5), 1, 1), True)]),
    "kl_batchmean": (fn("kl_div"), [(np.log(probs((3, 5), 1, 0)), True),
                                    (probs((3, 5), 1, 1), True)]),
    "kl_log_target": (fn("kl_div", log_target=True), [(np.log(probs((3, 5), 1, 0)), True),
                                                      (np.log(probs((3, 5), 1, 1)), True)]),
    "hinge_embedding": (fn("hinge_embedding_loss", margin=1.5),
                        [(np.abs(rand(8)), True), (np.array([1., -1] * 4), False)]),
    "multi_margin": (fn("multi_margin_loss"), [X64, (labels(6, 4, 1), False)]),
    "multi_margin_p2_weight": (fn("multi_margin_loss", p=2, margin=0.7, weight=W4),
                               [X64, (labels(6, 4, 1), False)]),
    "cosine_embedding": (fn("cosine_embedding_loss", margin=-0.3),
                         [(rand((5, 3)), True), (rand((5, 3), 1), True),
                          (np.array([1, -1, 1, -1, -1]), False)]),
    "margin_ranking": (fn("margin_ranking_loss", margin=0.2),
                       [(rand(6), True), (rand(6, 1), True),
                        (np.array([1., -1, 1, -1, 1, 1]), False)]),
}
REDUCTIONS_OF = {"kl_batchmean": ("batchmean",)}


def _run(call, inputs, dtype, reduction, lib):
    tensors = []
    for array, requires_grad in inputs:
        if array.dtype.kind == "f":
            tensors.append(lib.tensor(array.astype(dtype), requires_grad=requires_grad))
        else:
            tensors.append(lib.tensor(array))
    return call(lib, *tensors, reduction=reduction), tensors


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, reduction", [(n, r) for n in sorted(LOSSES)
                                             for r in REDUCTIONS_OF.get(n, REDUCTIONS)])
def test_loss_against_torch(name, reduction, dtype):
    call, inputs = LOSSES[name]
    out_n, ins_n = _run(call, inputs, dtype, reduction, nerve)
    out_t, ins_t = _run(call, inputs, dtype, reduction, torch)
    assert tuple(out_n.shape) == tuple(out_t.shape)
    assert str(out_n.dtype) == dtype
    close(out_n, out_t, dtype, f"{name}: value")
    g = rand(tuple(out_t.shape), 99)
    (out_n * nerve.tensor(g.astype(dtype))).sum().backward()
    (out_t * torch.tensor(g.astype(dtype))).sum().backward()
    for i, (a, b) in enumerate(zip(ins_n, ins_t)):
        if b.requires_grad:
            close(a.grad, b.grad, dtype, f"{name}: gradient of input {i}")


def test_cosine_similarity_against_torch():
    for (sa, sb), dim in ((((4, 3), (4, 3)), 1), (((2, 3, 4), (1, 3, 4)), 0),
                          (((5,), (5,)), 0)):
        outs, grads = [], []
        for lib in (nerve, torch):
            a = lib.tensor(rand(sa), requires_grad=True)
            b = lib.tensor(rand(sb, 1), requires_grad=True)
            out = lib.nn.CosineSimilarity(dim=dim, eps=1e-6)(a, b)
            (out * lib.tensor(rand(tuple(out.shape), 2))).sum().backward()
            outs.append(out)
            grads.append((a.grad, b.grad))
        close(outs[0], outs[1])
        for gn, gt in zip(*grads):
            close(gn, gt)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_against_torch(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4]])
    y = np.array([1, 0, 2])
    t = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    for call in (lambda lib, a: lib.nn.functional.cross_entropy(a, lib.tensor(y),
                                                                label_smoothing=0.1),
                 lambda lib, a: lib.nn.functional.binary_cross_entropy_with_logits(
                     a, lib.tensor(t.astype(dtype)), pos_weight=lib.tensor(
                         np.array([2.0, 1.0, 0.5], dtype=dtype)))):
        results = []
        for lib in (nerve, torch):
            a = lib.tensor(x.astype(dtype), requires_grad=True)
            out = call(lib, a)
            out.backward()
            results.append((out, a.grad))
        assert np.isfinite(to_numpy(results[0][0])) and np.isfinite(to_numpy(results[0][1])).all()
        close(results[0][0], results[1][0], dtype)
        close(results[0][1], results[1][1], dtype)


MODULES = {
    "CrossEntropyLoss": (dict(weight=W4, label_smoothing=0.1, ignore_index=3), [
        X64, (labels(6, 4, 1, 3), False)]),
    "NLLLoss": (dict(weight=W4, reduction="sum"), [X64, (labels(6, 4, 1), False)]),
    "MSELoss": (dict(), [(rand(5), True), (rand(5, 1), False)]),
    "L1Loss": (dict(reduction="sum"), [(rand(5), True), (rand(5, 1), False)]),
    "SmoothL1Loss": (dict(beta=0.3), [(rand(5), True), (rand(5, 1), False)]),
    "HuberLoss": (dict(delta=0.3), [(rand(5), True), (rand(5, 1), False)]),
    "BCELoss": (dict(weight=np.abs(rand(3))), [(probs((4, 3), 1, 0), True),
                                               (probs((4, 3), 0, 1), False)]),
    "BCEWithLogitsLoss": (dict(pos_weight=np.abs(rand(3)) + 0.5), [
        (rand((4, 3)), True), (probs((4, 3), 0, 1), False)]),
    "KLDivLoss": (dict(reduction="batchmean"), [(np.log(probs((3, 5), 1, 0)), True),
                                                (probs((3, 5), 1, 1), False)]),
    "HingeEmbeddingLoss": (dict(margin=0.5), [(rand(6), True),
                                              (np.array([1., -1, 1, -1, 1, -1]), False)]),
    "MultiMarginLoss": (dict(p=2, weight=W4), [X64, (labels(6, 4, 1), False)]),
    "CosineEmbeddingLoss": (dict(margin=0.1), [(rand((5, 3)), True), (rand((5, 3), 1), True),
                                              (np.array([1, -1, 1, -1, -1]), False)]),
    "MarginRankingLoss": (dict(margin=0.1), [(rand(6), True), (rand(6, 1), True),
                                            (np.array([1., -1, 1, -1, 1, 1]), False)]),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_loss_module_against_torch(name):
    kwargs, inputs = MODULES[name]
    results = []
    for lib in (nerve, torch):
        kw = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        module = getattr(lib.nn, name)(**kw)
        out, tensors = _run(lambda lib_, *a, reduction: module(*a), inputs, "float64", None,
                            lib)
        out.backward()
        results.append((out, [t.grad for t in tensors if t.requires_grad],
                        list(module.state_dict())))
    close(results[0][0], results[1][0], what=f"{name}: value")
    for gn, gt in zip(results[0][1], results[1][1]):
        close(gn, gt, what=f"{name}: gradient")
    assert results[0][2] == results[1][2]
