"""Checkpoint files: round trip, what they hold, and clear errors for bad files."""
import numpy
import pytest

import nerve
import nerve.nn as nn
import nerve.optim as optim
from nerve.backend import random as backend_random
from nerve.data import DataLoader, TensorDataset
from nerve.train import CheckpointError, History, load_checkpoint, restore, resume, save_checkpoint


def _parts():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(nerve.ones(4, 3)).sum().backward()
    opt.step()  # so the optimizer has state
    sched = optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (t + 1))
    sched.step()
    loader = DataLoader(TensorDataset(numpy.arange(10.0)), batch_size=3, shuffle=True, seed=7)
    list(loader)
    return model, opt, sched, loader


def test_round_trip_restores_every_part(tmp_path):
    nerve.manual_seed(5)
    model, opt, sched, loader = _parts()
    history = History()
    history.append(0, {"loss": 1.5})
    save_checkpoint(tmp_path / "c.nrv", model, opt, sched, epoch=1, loader=loader,
                    history=history, meta={"model": "linear", "config": {"n": (1, 2)}})
    rng_then = backend_random.get_rng_state()
    expected_next = backend_random.generator().random(3)

    nerve.manual_seed(99)
    model2 = nn.Linear(3, 2)
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    sched2 = optim.lr_scheduler.LambdaLR(opt2, lambda t: 1.0 / (t + 1))
    loader2 = DataLoader(TensorDataset(numpy.arange(10.0)), batch_size=3, shuffle=True)
    history2 = History()
    state = resume(tmp_path / "c.nrv", model2, opt2, sched2, loader2, history2)
    assert state["epoch"] == 1 and state["meta"]["config"] == {"n": (1, 2)}
    for key, value in model.state_dict().items():
        assert numpy.array_equal(model2.state_dict()[key].numpy(), value.numpy())
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.005
    assert opt2.state_dict()["state"][0]["step"] == 1
    assert sched2.last_epoch == sched.last_epoch == 1
    assert loader2.state_dict() == loader.state_dict() == {"seed": 7, "epoch": 1}
    assert history2.rows() == [{"epoch": 1, "loss": 1.5}]
    assert backend_random.get_rng_state() == rng_then
    numpy.testing.assert_array_equal(backend_random.generator().random(3), expected_next)


def test_restore_without_optimizer_state_is_an_error(tmp_path):
    model = nn.Linear(2, 2)
    save_checkpoint(tmp_path / "m.nrv", model)
    state = load_checkpoint(tmp_path / "m.nrv")
    assert state["optimizer"] is None and state["epoch"] == 0
    with pytest.raises(CheckpointError, match="no optimizer state"):
        restore(state, model, optim.SGD(model.parameters(), lr=0.1))


def test_bad_files_give_clear_errors(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.nrv")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_checkpoint(tmp_path)
    nerve.save(model.state_dict(), tmp_path / "weights.nrv")
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "weights.nrv")
    save_checkpoint(tmp_path / "good.nrv", model)
    data = (tmp_path / "good.nrv").read_bytes()
    (tmp_path / "cut.nrv").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "cut.nrv")
    (tmp_path / "text.nrv").write_text("not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "text.nrv")
