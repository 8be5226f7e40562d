"""AveragedModel (SWA mean and EMA) against NumPy formulas and torch.optim.swa_utils."""
from __future__ import annotations

import numpy as np
import pytest

import nerve
from nerve import nn
from nerve.optim import AveragedModel, get_ema_multi_avg_fn


def _net():
    nerve.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _perturb(net, k):
    """Move every weight and run a batch (changing the batch-norm statistics)."""
    for p in net.parameters():
        p.data = p.data + np.float32(0.1 * (k + 1))
    net.train()
    with nerve.no_grad():
        net(nerve.tensor(np.random.default_rng(k).standard_normal((8, 3)).astype(np.float32)))


def _history(net, steps):
    """Each step's copy of the weights and float buffers of ``net``, as arrays."""
    out = []
    for k in range(steps):
        _perturb(net, k)
        out.append({n: t.data.copy() for n, t in [*net.named_parameters(), *net.named_buffers()]
                    if t.data.dtype.kind == "f"})
    return out


def test_mean_is_the_average_of_the_seen_weights():
    net = _net()
    swa = AveragedModel(net)
    seen = []
    for k in range(4):
        _perturb(net, k)
        swa.update_parameters(net)
        seen.append(net[0].weight.data.copy())
    np.testing.assert_allclose(swa.module[0].weight.data, np.mean(seen, axis=0), rtol=1e-6)
    assert int(swa.n_averaged.item()) == 4
    # without use_buffers the statistics are the model's latest
    np.testing.assert_array_equal(swa.module[1].running_mean.data, net[1].running_mean.data)


@pytest.mark.parametrize("warmup", [False, True])
def test_ema_with_buffers_follows_the_formula(warmup):
    net = _net()
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.9, warmup=warmup),
                        use_buffers=True)
    history = _history(_net(), 5)
    expected = None
    for k, weights in enumerate(history):
        for (name, t) in [*net.named_parameters(), *net.named_buffers()]:
            if name in weights:
                t.data = weights[name].copy()
        ema.update_parameters(net)
        if expected is None:
            expected = {n: v.astype(np.float64) for n, v in weights.items()}
        else:
            d = min(0.9, (1 + k) / (10 + k)) if warmup else 0.9
            expected = {n: d * expected[n] + (1 - d) * weights[n] for n in weights}
    state = ema.module.state_dict()
    for name, value in expected.items():
        np.testing.assert_allclose(state[name].numpy(), value, rtol=1e-5, atol=1e-6)


def test_averaged_copy_takes_no_gradient_and_saves_its_count(tmp_path):
    net = _net()
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.5))
    assert not any(p.requires_grad for p in ema.parameters())
    ema.update_parameters(net)
    nerve.save(ema.state_dict(), tmp_path / "ema.nrv")
    other = AveragedModel(_net())
    other.load_state_dict(nerve.load(tmp_path / "ema.nrv"))
    assert int(other.n_averaged.item()) == 1


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="decay must be in"):
        get_ema_multi_avg_fn(1.5)
    with pytest.raises(TypeError, match="nerve.nn.Module"):
        AveragedModel(object())
    ema = AveragedModel(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="do not match"):
        ema.update_parameters(nn.Linear(3, 5))


def test_matches_torch_ema():
    torch = pytest.importorskip("torch", reason="torch.optim.swa_utils is the reference")
    from torch.optim.swa_utils import AveragedModel as TorchAveraged
    from torch.optim.swa_utils import get_ema_multi_avg_fn as torch_ema

    net = nn.Linear(3, 2)
    tnet = torch.nn.Linear(3, 2)
    with torch.no_grad():
        tnet.weight.copy_(torch.from_numpy(net.weight.data))
        tnet.bias.copy_(torch.from_numpy(net.bias.data))
    ours = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.8))
    theirs = TorchAveraged(tnet, multi_avg_fn=torch_ema(0.8))
    for k in range(6):
        step = np.float32(0.3 * np.sin(k + 1))
        net.weight.data = net.weight.data + step
        with torch.no_grad():
            tnet.weight.add_(float(step))
        ours.update_parameters(net)
        theirs.update_parameters(tnet)
    np.testing.assert_allclose(ours.module.weight.data, theirs.module.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
