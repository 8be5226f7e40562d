"""Resuming from a checkpoint gives bit-identical weights to an uninterrupted run."""
import numpy
import pytest

import nerve
import nerve.nn as nn
import nerve.optim as optim
from nerve.data import DataLoader
from nerve.data import transforms as T
from nerve.data.datasets import two_spirals
from nerve.train import ModelCheckpoint, fit, load_checkpoint


def _run(tmp_path, epochs, seed=0, resume=None, checkpoints=True, optimizer="sgd"):
    """A run with every source of randomness: init, shuffling, dropout, a random transform,
    momentum/Adam state and a per-step schedule."""
    nerve.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
    X, y = two_spirals(n=96, noise=0.05, seed=3)
    ds = nerve.data.ArrayDataset(X, y, transform=T.GaussianNoise(0.05))
    loader = DataLoader(ds, batch_size=16, shuffle=True)  # seed drawn from nerve's generator
    opt = (optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd"
           else optim.Adam(model.parameters(), lr=0.01))
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4 * len(loader))
    callbacks = [ModelCheckpoint(tmp_path, monitor="loss")] if checkpoints else []
    history = fit(model, loader, nn.CrossEntropyLoss(), opt, epochs, scheduler=sched,
                  scheduler_interval="step", callbacks=callbacks, progress=False, resume=resume)
    return model, history


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, optimizer):
    full, full_history = _run(tmp_path / "a", 4, checkpoints=False, optimizer=optimizer)
    _run(tmp_path / "b", 2, optimizer=optimizer)  # "interrupted" after 2 of 4 epochs
    assert load_checkpoint(tmp_path / "b" / "last.nrv")["epoch"] == 2
    # a new session: another seed, fresh objects; everything comes from the checkpoint
    resumed, history = _run(tmp_path / "b", 4, seed=123, resume=tmp_path / "b" / "last.nrv",
                            optimizer=optimizer)
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert numpy.array_equal(a.numpy(), b.numpy()), name
    assert history.epoch == [0, 1, 2, 3]
    assert history["loss"] == full_history["loss"]


def test_without_restoring_the_state_the_runs_differ(tmp_path):
    # the control: the equality above is not an accident of the setup
    full, _ = _run(tmp_path / "a", 4, checkpoints=False)
    _run(tmp_path / "b", 2)
    state = load_checkpoint(tmp_path / "b" / "last.nrv")
    nerve.manual_seed(123)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
    model.load_state_dict(state["model"])  # weights only: new shuffling, momentum, dropout
    X, y = two_spirals(n=96, noise=0.05, seed=3)
    fit(model, (X, y), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1,
                                                          momentum=0.9), 2, batch_size=16,
        progress=False)
    assert not numpy.array_equal(full.state_dict()["0.weight"].numpy(),
                                 model.state_dict()["0.weight"].numpy())


def test_resume_past_the_end_is_an_error(tmp_path):
    _run(tmp_path, 2)
    with pytest.raises(ValueError, match="2 epochs done, more than epochs=1"):
        _run(tmp_path, 1, resume=tmp_path / "last.nrv")
