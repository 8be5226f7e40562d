"""Recurrent layers against PyTorch: copy torch's weights in (its state_dict loads unchanged),
then compare outputs, final states and the gradients of input, initial states and every
parameter. Skipped without torch."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
import nerve.nn as nn

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-9, atol=1e-11)  # float64 on both sides
KINDS = {"RNN_TANH": ("RNN", dict(nonlinearity="tanh")),
         "RNN_RELU": ("RNN", dict(nonlinearity="relu")),
         "LSTM": ("LSTM", {}), "GRU": ("GRU", {})}
CONFIGS = [dict(num_layers=2, bidirectional=True, batch_first=True),
           dict(num_layers=1, bias=False),
           dict(num_layers=3, bidirectional=False)]


def pair(kind, cls_suffix="", **kw):
    """A torch layer (float64, seeded) and a nerve layer holding the same weights."""
    name, extra = KINDS[kind]
    torch.manual_seed(0)
    ref = getattr(torch.nn, name + cls_suffix)(**extra, **kw).double()
    mine = getattr(nn, name + cls_suffix)(**extra, **kw, dtype=nerve.float64)
    state = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    assert list(state) == list(mine.state_dict())
    mine.load_state_dict(state)
    return ref, mine


def as_pair(array):
    return torch.tensor(array, requires_grad=True), nerve.tensor(array, requires_grad=True)


def flat(outputs):
    out, state = outputs
    return [out] + (list(state) if isinstance(state, tuple) else [state])


def compare(ref_outs, my_outs, ref_leaves, my_leaves, seed=1):
    """Outputs equal; then the gradients of a random projection of all outputs equal."""
    rng = np.random.default_rng(seed)
    loss_ref, loss_mine = 0, 0
    for r, m in zip(ref_outs, my_outs):
        assert tuple(r.shape) == tuple(m.shape)
        np.testing.assert_allclose(m.detach().numpy(), r.detach().numpy(), **TOL)
        w = rng.standard_normal(tuple(r.shape))
        loss_ref = loss_ref + (r * torch.tensor(w)).sum()
        loss_mine = loss_mine + (m * nerve.tensor(w)).sum()
    loss_ref.backward()
    loss_mine.backward()
    for r, m in zip(ref_leaves, my_leaves):
        np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), **TOL)


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_matches_torch(kind, cfg):
    ref, mine = pair(kind, input_size=3, hidden_size=4, **cfg)
    d = 2 if cfg.get("bidirectional") else 1
    rng = np.random.default_rng(0)
    tx, x = as_pair(rng.standard_normal((2, 5, 3) if cfg.get("batch_first") else (5, 2, 3)))
    states = [as_pair(rng.standard_normal((d * cfg["num_layers"], 2, 4)))
              for _ in range(2 if kind == "LSTM" else 1)]
    if kind == "LSTM":
        args_ref, args_mine = (tuple(s[0] for s in states),), (tuple(s[1] for s in states),)
    else:
        args_ref, args_mine = (states[0][0],), (states[0][1],)
    compare(flat(ref(tx, *args_ref)), flat(mine(x, *args_mine)),
            [tx] + [s[0] for s in states] + list(ref.parameters()),
            [x] + [s[1] for s in states] + list(mine.parameters()))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_default_state_and_unbatched_input_match_torch(kind):
    ref, mine = pair(kind, input_size=3, hidden_size=4, bidirectional=True)
    tx, x = as_pair(np.random.default_rng(2).standard_normal((6, 3)))
    compare(flat(ref(tx)), flat(mine(x)), [tx] + list(ref.parameters()),
            [x] + list(mine.parameters()))


@pytest.mark.parametrize("kind", list(KINDS))
def test_cell_matches_torch(kind):
    ref, mine = pair(kind, "Cell", input_size=3, hidden_size=4)
    rng = np.random.default_rng(3)
    tx, x = as_pair(rng.standard_normal((2, 3)))
    states = [as_pair(rng.standard_normal((2, 4))) for _ in range(2 if kind == "LSTM" else 1)]
    if kind == "LSTM":
        r = ref(tx, tuple(s[0] for s in states))
        m = mine(x, tuple(s[1] for s in states))
    else:
        r, m = [ref(tx, states[0][0])], [mine(x, states[0][1])]
    compare(list(r), list(m), [tx] + [s[0] for s in states] + list(ref.parameters()),
            [x] + [s[1] for s in states] + list(mine.parameters()))


def test_float32_lstm_close_to_torch():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(8, 16, num_layers=2)
    mine = nn.LSTM(8, 16, num_layers=2)
    mine.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((20, 3, 8)).astype(np.float32)
    out_ref, _ = ref(torch.tensor(x))
    out, _ = mine(nerve.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), rtol=1e-4,
                               atol=1e-5)
