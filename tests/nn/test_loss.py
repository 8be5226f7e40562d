"""Losses against NumPy formulas for every reduction and option, float64 gradient checks
(second order for cross-entropy), stability for extreme logits, and clear shape errors."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
from nerve.autograd import gradcheck, gradgradcheck

REDUCTIONS = ("none", "mean", "sum")
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def leaf(a, dtype=np.float64):
    return nerve.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def close(actual, expected, dtype=np.float64):
    actual = actual.detach().numpy() if isinstance(actual, nerve.Tensor) else actual
    assert np.shape(actual) == np.shape(expected)
    np.testing.assert_allclose(actual, expected, **TOL[dtype])


def reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def log_softmax(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


# ---- cross-entropy and NLL ----------------------------------------------------------------------
def ref_cross_entropy(x, y, axis, weight=None, ignore_index=-100, smoothing=0.0,
                      reduction="mean"):
    """PyTorch's definition, written out: weighted NLL mixed with the smoothing term, 'mean'
    divided by the summed weights of the non-ignored targets (index targets)."""
    logp = np.moveaxis(log_softmax(x, axis), axis, -1)
    n_classes = logp.shape[-1]
    w = np.ones(n_classes) if weight is None else weight
    if np.issubdtype(y.dtype, np.floating):
        q = np.moveaxis(y, axis, -1) * (1 - smoothing) + smoothing / n_classes
        loss = -(logp * q * w).sum(-1)
        return loss.sum() / loss.size if reduction == "mean" else reduce(loss, reduction)
    valid = y != ignore_index
    yc = np.where(valid, y, 0)
    nll = -np.take_along_axis(logp, yc[..., None], -1)[..., 0] * w[yc] * valid
    smooth = -(logp * w).sum(-1) * valid
    loss = (1 - smoothing) * nll + smoothing / n_classes * smooth
    if reduction == "mean":
        return loss.sum() / (w[yc] * valid).sum()
    return reduce(loss, reduction)


CE_CASES = {
    "plain": dict(),
    "weight": dict(weight=np.array([0.5, 2.0, 1.0, 0.25])),
    "ignore": dict(ignore_index=2),
    "smoothing": dict(smoothing=0.2),
    "all": dict(weight=np.array([0.5, 2.0, 1.0, 0.25]), ignore_index=1, smoothing=0.1),
}
CE_SHAPES = [((6, 4), 1), ((3, 4, 5), 1), ((2, 4, 3, 2), 1), ((4,), 0)]


def _ce_call(x, y, opts, reduction, dtype=np.float64):
    w = opts.get("weight")
    return F.cross_entropy(x, y, weight=None if w is None else nerve.tensor(w.astype(dtype)),
                           ignore_index=opts.get("ignore_index", -100), reduction=reduction,
                           label_smoothing=opts.get("smoothing", 0.0))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CE_CASES))
@pytest.mark.parametrize("shape, axis", CE_SHAPES)
def test_cross_entropy_class_indices(shape, axis, case, reduction):
    x = rand(shape) * 3
    tshape = shape[:axis] + shape[axis + 1:]
    y = np.random.default_rng(1).integers(0, shape[axis], tshape)
    if tshape:
        y.flat[0] = 2  # one target at the ignored class when there is one
        y.flat[-1] = 0
    else:
        y = np.array(3)
    opts = CE_CASES[case]
    expected = ref_cross_entropy(x, y, axis, opts.get("weight"), opts.get("ignore_index", -100),
                                 opts.get("smoothing", 0.0), reduction)
    for dtype in (np.float32, np.float64):
        out = _ce_call(nerve.tensor(x.astype(dtype)), nerve.tensor(y), opts, reduction, dtype)
        assert out.dtype == np.dtype(dtype)
        close(out, np.asarray(expected).astype(dtype), dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"smoothing": 0.3, "weight": np.array([1.0, 2, 3])}])
def test_cross_entropy_class_probabilities(opts, reduction):
    x = rand((4, 3, 2)) * 2
    t = np.exp(rand((4, 3, 2), 1))
    t /= t.sum(1, keepdims=True)
    out = _ce_call(nerve.tensor(x), nerve.tensor(t), opts, reduction)
    close(out, ref_cross_entropy(x, t, 1, opts.get("weight"), smoothing=opts.get("smoothing",
                                                                                 0.0),
                                 reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CE_CASES))
def test_cross_entropy_gradcheck_and_gradgradcheck(case, reduction):
    y = nerve.tensor(np.array([[0, 2], [3, 1], [1, 1]]))
    opts = CE_CASES[case]

    def fn(x):
        return _ce_call(x, y, opts, reduction)

    x = leaf(rand((3, 4, 2)))
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x, y = rand((5, 3)), np.array([0, 2, 1, 1, 0])
    xt = leaf(x)
    F.cross_entropy(xt, nerve.tensor(y), reduction="sum").backward()
    p = np.exp(log_softmax(x, 1))
    close(xt.grad, p - np.eye(3)[y])


def test_cross_entropy_soft_target_gradients():
    """Both the logits and a probability target that requires grad (first and second order)."""
    def fn(x, t):
        return F.cross_entropy(x, t, label_smoothing=0.1, weight=nerve.tensor([1.0, 0.5, 2.0]))

    x, t = leaf(rand((4, 3))), leaf(np.abs(rand((4, 3), 1)))
    assert gradcheck(fn, [x, t])
    assert gradgradcheck(fn, [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", ["plain", "weight", "ignore"])
def test_nll_loss(case, reduction):
    opts = CE_CASES[case]
    x, y = log_softmax(rand((5, 4, 2)), 1), np.array([[0, 2], [3, 1], [2, 2], [1, 0], [3, 3]])
    w = opts.get("weight")

    def fn(logp):
        return F.nll_loss(logp, nerve.tensor(y), None if w is None else nerve.tensor(w),
                          ignore_index=opts.get("ignore_index", -100), reduction=reduction)

    logp = np.moveaxis(x, 1, -1)
    wv = np.ones(4) if w is None else w
    valid = y != opts.get("ignore_index", -100)
    yc = np.where(valid, y, 0)
    loss = -np.take_along_axis(logp, yc[..., None], -1)[..., 0] * wv[yc] * valid
    expected = loss.sum() / (wv[yc] * valid).sum() if reduction == "mean" else \
        reduce(loss, reduction)
    close(fn(nerve.tensor(x)), expected)
    assert gradcheck(fn, [leaf(x)])
    assert gradgradcheck(fn, [leaf(x)])


def test_cross_entropy_all_ignored_mean_is_nan():
    out = F.cross_entropy(nerve.tensor(rand((2, 3))), nerve.tensor([-100, -100]))
    assert np.isnan(out.item())


# ---- extreme logits -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_extreme_logits_are_finite(dtype):
    x = leaf([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype)
    y = nerve.tensor([1, 0, 2])
    loss = F.cross_entropy(x, y, reduction="none")
    close(loss, np.array([2e4, 2e4 + np.log(2), np.log(3)]).astype(dtype), dtype)
    loss.sum().backward()
    expected = np.array([[1, -1, 0], [-1, 0.5, 0.5], [1 / 3, 1 / 3, -2 / 3]])
    close(x.grad, expected.astype(dtype), dtype)
    smoothed = F.cross_entropy(x.detach(), y, label_smoothing=0.1)
    assert np.isfinite(smoothed.item())


def test_cross_entropy_minus_inf_logit_of_other_class():
    x = leaf([[0.0, -np.inf, 1.0]])
    loss = F.cross_entropy(x, nerve.tensor([2]))
    close(loss, np.log(1 + np.exp(-1.0)))
    loss.backward()
    assert np.all(np.isfinite(x.grad.numpy())) and x.grad.numpy()[0, 1] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_extreme_logits_are_finite(dtype):
    x = leaf([1e4, -1e4, 1e4, -1e4, 0.0], dtype)
    t = nerve.tensor(np.array([1, 0, 0, 1, 1], dtype=dtype))
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none",
                                              pos_weight=nerve.tensor(np.array(2.0, dtype)))
    close(loss, np.array([0, 0, 1e4, 2e4, 2 * np.log(2)]).astype(dtype), dtype)
    loss.sum().backward()
    close(x.grad, np.array([0, 0, 1, -2, -1]).astype(dtype), dtype)


def test_bce_clamps_log_at_minus_100():
    x = leaf([0.0, 1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(x, nerve.tensor([1.0, 0.0, 0.0, 1.0]), reduction="none")
    close(loss, np.array([100.0, 100.0, 0.0, 0.0]))
    loss.sum().backward()
    close(x.grad, np.array([-1e12, 1e12, 0.0, 0.0]))


# ---- regression losses --------------------------------------------------------------------------
def _huber(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


POINTWISE = {
    "mse": (lambda x, t, **k: F.mse_loss(x, t, **k), lambda d: d * d),
    "l1": (lambda x, t, **k: F.l1_loss(x, t, **k), np.abs),
    "smooth_l1": (lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.7, **k),
                  lambda d: _huber(d, 0.7) / 0.7),
    "smooth_l1_beta0": (lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.0, **k), np.abs),
    "huber": (lambda x, t, **k: F.huber_loss(x, t, delta=0.6, **k), lambda d: _huber(d, 0.6)),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_losses(name, reduction):
    fn, ref = POINTWISE[name]
    x, t = rand((4, 5)), rand((4, 5), 1)
    for dtype in (np.float32, np.float64):
        out = fn(nerve.tensor(x.astype(dtype)), nerve.tensor(t.astype(dtype)),
                 reduction=reduction)
        assert out.dtype == np.dtype(dtype)
        close(out, reduce(ref(x - t), reduction).astype(dtype), dtype)
    assert gradcheck(lambda a, b: fn(a, b, reduction=reduction), [leaf(x), leaf(t)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, by_weight", [("mse", True), ("l1", True), ("huber", False)])
def test_weighted_pointwise_losses(name, by_weight, reduction):
    fn, ref = POINTWISE[name]
    x, t, w = rand((3, 4)), rand((3, 4), 1), np.abs(rand((3, 4), 2))
    out = fn(nerve.tensor(x), nerve.tensor(t), reduction=reduction, weight=nerve.tensor(w))
    loss = ref(x - t) * w
    expected = loss.sum() / w.sum() if reduction == "mean" and by_weight else \
        reduce(loss, reduction)
    close(out, expected)


def test_smooth_l1_gradient_on_both_sides_of_beta():
    x = leaf([0.2, -0.3, 2.0, -3.0])
    F.smooth_l1_loss(x, nerve.zeros(4, dtype="float64"), reduction="sum").backward()
    close(x.grad, np.array([0.2, -0.3, 1.0, -1.0]))


# ---- binary cross-entropy -----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(weighted, reduction):
    rng = np.random.default_rng(0)
    p, t = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
    w = np.abs(rand(3, 2)) if weighted else None
    loss = -(t * np.log(p) + (1 - t) * np.log(1 - p)) * (1 if w is None else w)

    def fn(a, b):
        return F.binary_cross_entropy(a, b, None if w is None else nerve.tensor(w),
                                      reduction=reduction)

    close(fn(nerve.tensor(p), nerve.tensor(t)), reduce(loss, reduction))
    assert gradcheck(fn, [leaf(p), leaf(t)])
    assert gradgradcheck(fn, [leaf(p), leaf(t)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", ["plain", "weight", "pos_weight", "both"])
def test_binary_cross_entropy_with_logits(opts, reduction):
    x, t = rand((4, 3)) * 3, np.random.default_rng(1).uniform(0, 1, (4, 3))
    w = np.abs(rand((4, 1), 2)) if opts in ("weight", "both") else None
    pw = np.abs(rand(3, 3)) + 0.5 if opts in ("pos_weight", "both") else None
    sig = 1 / (1 + np.exp(-x))
    loss = -((1 if pw is None else pw) * t * np.log(sig) + (1 - t) * np.log(1 - sig))
    loss = loss * (1 if w is None else w)

    def fn(a, b, *pos):
        return F.binary_cross_entropy_with_logits(
            a, b, None if w is None else nerve.tensor(w), reduction=reduction,
            pos_weight=pos[0] if pos else None)

    extra = [] if pw is None else [leaf(pw)]
    close(fn(nerve.tensor(x), nerve.tensor(t), *[nerve.tensor(pw)] * (pw is not None)),
          reduce(loss, reduction))
    assert gradcheck(fn, [leaf(x), leaf(t)] + extra)
    assert gradgradcheck(fn, [leaf(x), leaf(t)] + extra)


def test_bce_with_logits_gradient_at_zero_logit():
    x = leaf([0.0, 0.0])
    F.binary_cross_entropy_with_logits(x, nerve.tensor([1.0, 0.0]), reduction="sum").backward()
    close(x.grad, np.array([-0.5, 0.5]))


# ---- divergences, margins, similarities ---------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(log_target, reduction):
    x = log_softmax(rand((3, 4)), 1)
    t = np.exp(log_softmax(rand((3, 4), 1), 1))
    t[0, 0] = 0.0  # t log t = 0 at t = 0
    tt = np.log(t + 1e-3) if log_target else t
    loss = np.exp(tt) * (tt - x) if log_target else np.where(t > 0, t * np.log(
        np.where(t > 0, t, 1)), 0) - t * x
    expected = loss.sum() / 3 if reduction == "batchmean" else reduce(loss, reduction)

    def fn(a, b):
        return F.kl_div(a, b, reduction=reduction, log_target=log_target)

    close(fn(nerve.tensor(x), nerve.tensor(tt)), expected)
    tt[0, 0] = 0.3  # t log t has no derivative at t = 0
    assert gradcheck(fn, [leaf(x), leaf(tt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(reduction):
    x, y = np.abs(rand(6)) + 0.05, np.array([1, -1, -1, 1, -1, 1])
    x[2] = 1.7  # beyond the margin: no loss
    loss = np.where(y == 1, x, np.maximum(0, 1.2 - x))
    fn = lambda a: F.hinge_embedding_loss(a, nerve.tensor(y), margin=1.2,  # noqa: E731
                                          reduction=reduction)
    close(fn(nerve.tensor(x)), reduce(loss, reduction))
    assert gradcheck(fn, [leaf(x)])


@pytest.mark.parametrize("margin", [1.0, 0.0])
def test_hinge_loss_svm_and_perceptron(margin):
    x, y = np.array([2.0, 0.5, -0.3, -2.0, 0.7]), np.array([1.0, 1.0, 1.0, -1.0, -1.0])
    xt = leaf(x)
    out = F.hinge_loss(xt, nerve.tensor(y), margin=margin, reduction="sum")
    close(out, np.maximum(0, margin - y * x).sum())
    out.backward()
    close(xt.grad, np.where(margin - y * x > 0, -y, 0.0))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p, weighted", [(1, False), (2, False), (1, True)])
def test_multi_margin_loss(p, weighted, reduction):
    x, y = rand((5, 4)), np.array([0, 3, 1, 1, 2])
    w = np.array([0.5, 1.0, 2.0, 1.5]) if weighted else None
    xy = np.take_along_axis(x, y[:, None], 1)
    m = np.maximum(0, 0.8 - xy + x) ** p
    m[np.arange(5), y] = 0
    loss = m.sum(1) / 4 * (1 if w is None else w[y])

    def fn(a):
        return F.multi_margin_loss(a, nerve.tensor(y), p=p, margin=0.8,
                                   weight=None if w is None else nerve.tensor(w),
                                   reduction=reduction)

    close(fn(nerve.tensor(x)), reduce(loss, reduction))
    assert gradcheck(fn, [leaf(x)])


@pytest.mark.parametrize("shapes, dim", [(((4, 3), (4, 3)), 1), (((2, 3, 4), (3, 4)), -1),
                                         (((5,), (5,)), 0)])
def test_cosine_similarity(shapes, dim):
    a, b = rand(shapes[0]), rand(shapes[1], 1)
    na = np.sqrt((a * a).sum(dim, keepdims=True))
    nb = np.sqrt((b * b).sum(dim, keepdims=True))
    close(F.cosine_similarity(nerve.tensor(a), nerve.tensor(b), dim), (a / na * b / nb).sum(dim))
    assert gradcheck(lambda u, v: F.cosine_similarity(u, v, dim), [leaf(a), leaf(b)])
    module = nn.CosineSimilarity(dim=dim)
    close(module(nerve.tensor(a), nerve.tensor(b)), (a / na * b / nb).sum(dim))


def test_cosine_similarity_zero_vector_has_finite_gradient():
    a = leaf([[0.0, 0.0], [1.0, 2.0]])
    out = F.cosine_similarity(a, nerve.tensor([[1.0, 1.0], [1.0, 1.0]], dtype="float64"))
    close(out[0], 0.0)
    out.sum().backward()
    assert np.all(np.isfinite(a.grad.numpy()))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_and_margin_ranking(reduction):
    a, b, y = rand((5, 3)), rand((5, 3), 1), np.array([1, -1, -1, 1, -1])
    cos = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    loss = np.where(y == 1, 1 - cos, np.maximum(0, cos + 0.2))
    fn = lambda u, v: F.cosine_embedding_loss(u, v, nerve.tensor(y), margin=-0.2,  # noqa: E731
                                              reduction=reduction)
    close(fn(nerve.tensor(a), nerve.tensor(b)), reduce(loss, reduction))
    assert gradcheck(fn, [leaf(a), leaf(b)])
    x1, x2, t = rand(5, 3), rand(5, 4), np.array([1.0, -1, 1, -1, 1])
    rank = lambda u, v: F.margin_ranking_loss(u, v, nerve.tensor(t), margin=0.3,  # noqa: E731
                                              reduction=reduction)
    close(rank(nerve.tensor(x1), nerve.tensor(x2)),
          reduce(np.maximum(0, -t * (x1 - x2) + 0.3), reduction))
    assert gradcheck(rank, [leaf(x1), leaf(x2)])


# ---- modules ------------------------------------------------------------------------------------
def test_modules_match_functional_and_keep_weight_buffers():
    x, y = nerve.tensor(rand((4, 3))), nerve.tensor([0, 2, 1, 1])
    w = nerve.tensor([1.0, 2.0, 0.5], dtype="float64")
    ce = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, reduction="sum")
    assert list(ce.state_dict()) == ["weight"]
    close(ce(x, y), F.cross_entropy(x, y, w, label_smoothing=0.1, reduction="sum").numpy())
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    bce = nn.BCEWithLogitsLoss(pos_weight=nerve.tensor([2.0, 1.0, 3.0], dtype="float64"))
    assert list(bce.state_dict()) == ["pos_weight"]
    t = nerve.tensor(np.random.default_rng(0).uniform(0, 1, (4, 3)))
    close(bce(x, t), F.binary_cross_entropy_with_logits(x, t, pos_weight=bce.pos_weight).numpy())
    assert nn.MSELoss(reduction="sum")(x, x * 2).item() == pytest.approx((x.numpy() ** 2).sum())
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    assert nn.L1Loss(size_average=False).reduction == "sum"  # legacy flags, as PyTorch
    assert nn.NLLLoss(reduce=False).reduction == "none"


# ---- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss,
                                F.binary_cross_entropy, F.binary_cross_entropy_with_logits,
                                F.kl_div, F.hinge_embedding_loss])
def test_pointwise_shape_mismatch_is_an_error(fn):
    with pytest.raises(ValueError) as info:
        fn(nerve.full((4, 1), 0.5), nerve.full((4,), 0.5))
    message = str(info.value)
    assert fn.__name__ in message and "(4, 1)" in message and "(4,)" in message


def test_loss_argument_errors():
    x = nerve.zeros(3, 4)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, nerve.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="target -5 is out of bounds"):
        F.nll_loss(x, nerve.tensor([0, -5, -100]))
    with pytest.raises(ValueError, match=r"must have shape \(3,\)"):
        F.cross_entropy(x, nerve.tensor([[0], [1], [2]]))
    with pytest.raises(ValueError, match="input's shape"):
        F.cross_entropy(x, nerve.zeros(3, 5))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, nerve.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="batchmean")
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\)"):
        F.nll_loss(x, nerve.tensor([0, 1, 2]), weight=nerve.ones(3))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(nerve.tensor([1.5]), nerve.tensor([1.0]))
    with pytest.raises(ValueError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=nerve.ones(5))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, nerve.tensor([0, 1, 2]), label_smoothing=1.5)
