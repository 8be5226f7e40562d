"""Callbacks: early stopping, checkpoints, schedulers and CSV/JSON logs."""
import csv
import json

import numpy
import pytest

import nerve
import nerve.nn as nn
import nerve.optim as optim
from nerve.data.datasets import gaussian_blobs
from nerve.train import (
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LambdaCallback,
    LRSchedulerCallback,
    ModelCheckpoint,
    Trainer,
    fit,
    load_checkpoint,
)

DATA = gaussian_blobs(n=60, centers=3, seed=2)


def _model():
    nerve.manual_seed(0)
    return nn.Linear(2, 3)


class _Logs:
    """A stand-in trainer that replays a fixed series of epoch logs through callbacks."""

    def __init__(self, model=None):
        self.model = model or _model()
        self.stop_training = False


def _replay(callback, values, key="val_loss", trainer=None):
    trainer = trainer or _Logs()
    callback.set_trainer(trainer)
    callback.on_train_begin({})
    for epoch, v in enumerate(values):
        callback.on_epoch_end(epoch, {key: v})
        if trainer.stop_training:
            return epoch
    callback.on_train_end({})
    return None


@pytest.mark.parametrize("values, patience, min_delta, stops_at", [
    ([1.0, 0.9, 0.95, 0.96, 0.97], 2, 0.0, 3),     # best at epoch 1, two bad epochs
    ([1.0, 0.9, 0.8, 0.7, 0.6], 1, 0.0, None),     # always improving
    ([1.0, 0.99, 0.98, 0.97], 2, 0.05, 2),          # improvements below min_delta don't count
])
def test_early_stopping_patience_and_min_delta(values, patience, min_delta, stops_at):
    es = EarlyStopping("val_loss", patience=patience, min_delta=min_delta)
    assert _replay(es, values) == stops_at
    assert es.stopped_epoch == stops_at


def test_early_stopping_mode_max_for_accuracy_and_restore_best():
    model = _model()
    trainer = _Logs(model)
    es = EarlyStopping("val_accuracy", patience=1, restore_best=True)
    es.set_trainer(trainer)
    for epoch, (acc, fill) in enumerate([(0.5, 1.0), (0.8, 2.0), (0.7, 3.0)]):
        with nerve.no_grad():
            model.weight.fill_(fill)
        es.on_epoch_end(epoch, {"val_accuracy": acc})
    assert trainer.stop_training and es.tracker.mode == "max" and es.best == 0.8
    es.on_train_end({})
    assert numpy.all(model.weight.detach().numpy() == 2.0)  # the weights of the best epoch


def test_early_stopping_stops_fit_and_missing_monitor_is_clear():
    model = _model()
    history = fit(model, DATA, "cross_entropy", optim.SGD(model.parameters(), lr=0.0), 20,
                  val_data=DATA, callbacks=[EarlyStopping("val_loss", patience=2)],
                  progress=False)
    assert len(history) == 3  # lr 0: epoch 1 sets the best, two more without improvement
    with pytest.raises(KeyError, match="'val_loss' is not in the logs .it needs val_data."):
        fit(model, DATA, "cross_entropy", optim.SGD(model.parameters(), lr=0.0), 2,
            callbacks=[EarlyStopping("val_loss")], progress=False)


def test_model_checkpoint_writes_best_and_last(tmp_path):
    model = _model()
    val_losses = iter([0.5, 0.3, 0.4, 0.2, 0.6])
    # replace the real validation value with a scripted one, before the checkpoint sees it
    script = LambdaCallback(on_epoch_end=lambda e, logs: logs.update(val_loss=next(val_losses)))
    script.order = -20
    ckpt = ModelCheckpoint(tmp_path / "run", monitor="val_loss", meta={"model": "linear"})
    fit(model, DATA, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), 5,
        callbacks=[script, ckpt], progress=False)
    best, last = load_checkpoint(ckpt.best_path), load_checkpoint(ckpt.last_path)
    assert last["epoch"] == 5 and best["epoch"] == 4
    assert best["meta"]["best"] == {"monitor": "val_loss", "value": 0.2, "epoch": 4}
    assert best["meta"]["model"] == last["meta"]["model"] == "linear"
    for key, value in model.state_dict().items():  # last holds the final weights
        assert numpy.array_equal(last["model"][key].numpy(), value.numpy())
    assert not numpy.array_equal(best["model"]["weight"].numpy(),
                                 last["model"]["weight"].numpy())
    assert last["optimizer"]["param_groups"][0]["lr"] == 0.1
    assert len(last["history"]["epoch"]) == 5


def test_lr_scheduler_callback_per_step_and_per_epoch():
    for interval, expected in (("step", 0.5 ** 6), ("epoch", 0.5 ** 2)):
        model = _model()
        opt = optim.SGD(model.parameters(), lr=1.0)
        sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        fit(model, DATA, "cross_entropy", opt, 2, batch_size=20,  # 3 batches an epoch
            callbacks=[LRSchedulerCallback(sched, interval)], progress=False)
        assert opt.param_groups[0]["lr"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="interval must be"):
        LRSchedulerCallback(sched, "batch")


def test_csv_and_json_loggers_hold_the_history(tmp_path):
    model = _model()
    json_log = JSONLogger(tmp_path / "metrics.json", monitor="val_accuracy")
    history = fit(model, DATA, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), 3,
                  val_data=DATA, callbacks=[CSVLogger(tmp_path / "history.csv"), json_log],
                  progress=False)
    with open(tmp_path / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
                             "time", "samples_per_s"]
    for key in ("loss", "val_accuracy"):  # exact: floats are written with repr
        assert [float(r[key]) for r in rows] == history[key]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["history"] == json.loads(json.dumps(history.rows()))
    best = max(history.rows(), key=lambda r: (r["val_accuracy"], -r["epoch"]))
    assert saved["best"]["epoch"] == best["epoch"]
    json_log.extra = {"test": {"accuracy": 0.5}}
    json_log.write()
    assert json.loads((tmp_path / "metrics.json").read_text())["test"] == {"accuracy": 0.5}


def test_csv_logger_on_resume_keeps_rows_up_to_the_checkpoint(tmp_path):
    path = tmp_path / "history.csv"
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, DATA, "cross_entropy", opt, 2, progress=False,
        callbacks=[CSVLogger(path), ModelCheckpoint(tmp_path, monitor="loss")])
    (tmp_path / "last.nrv").replace(tmp_path / "epoch2.nrv")
    # a later run wrote rows 1-3 and died without a checkpoint; resuming from epoch 2
    # drops its row 3 and writes 3 and 4 again
    fit(model, DATA, "cross_entropy", opt, 3, callbacks=[CSVLogger(path)], progress=False)
    trainer = Trainer(model, "cross_entropy", opt, callbacks=[CSVLogger(path)], progress=False)
    trainer.fit(DATA, 4, resume=tmp_path / "epoch2.nrv")
    with open(path, newline="") as f:
        epochs = [int(r["epoch"]) for r in csv.DictReader(f)]
    assert epochs == [1, 2, 3, 4]


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(ValueError, match="unknown hook 'on_step_end'"):
        LambdaCallback(on_step_end=print)
