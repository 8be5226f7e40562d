"""fit / evaluate / predict: learning, logs, schedules, clipping, data forms and errors."""
import numpy
import pytest

import nerve
import nerve.nn as nn
import nerve.optim as optim
from nerve.data import DataLoader, TensorDataset
from nerve.data.datasets import gaussian_blobs, xor
from nerve.train import Callback, History, Trainer, evaluate, fit, predict


def _xor_model():
    nerve.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))


def test_fit_learns_xor_to_100_percent():
    model = _xor_model()
    history = fit(model, xor(as_dataset=True), nn.CrossEntropyLoss(),
                  optim.Adam(model.parameters(), lr=0.05), epochs=150, batch_size=4,
                  progress=False)
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.05 < history["loss"][0]
    assert evaluate(model, xor(), nn.CrossEntropyLoss())["accuracy"] == 1.0
    assert predict(model, xor()[0]).numpy().argmax(1).tolist() == [0, 1, 1, 0]


def test_logs_are_means_over_the_epoch_and_history_rows_line_up():
    X, y = gaussian_blobs(n=90, centers=3, seed=1)
    model = nn.Linear(2, 3)
    loss = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights never move
    history = fit(model, (X, y), loss, opt, epochs=2, val_data=(X, y), batch_size=32,
                  progress=False)
    whole = loss(model(nerve.tensor(X)), nerve.tensor(y)).item()
    # batches of 32, 32, 26 averaged by size = the loss over all 90 samples
    assert history["loss"][0] == pytest.approx(whole, rel=1e-6)
    assert history["val_loss"][1] == pytest.approx(whole, rel=1e-6)
    rows = history.rows()
    assert [r["epoch"] for r in rows] == [1, 2]
    assert list(rows[0])[:5] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert {"lr", "time", "samples_per_s"} <= set(rows[0])


def test_per_step_and_per_epoch_schedules_step_the_right_number_of_times():
    X, y = gaussian_blobs(n=40, centers=2, seed=0)
    for interval, steps in (("step", 2 * 3), ("epoch", 2)):  # 40 samples / 16 = 3 batches
        model = nn.Linear(2, 2)
        opt = optim.SGD(model.parameters(), lr=1.0)
        sched = optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 ** t)
        history = fit(model, (X, y), "cross_entropy", opt, epochs=2, scheduler=sched,
                      scheduler_interval=interval, batch_size=16, progress=False)
        assert sched.last_epoch == steps
        assert opt.param_groups[0]["lr"] == pytest.approx(0.5 ** steps)
        assert history["lr"][0] == 1.0  # the rate the epoch started with


def test_reduce_on_plateau_gets_val_loss_and_needs_val_data():
    X, y = gaussian_blobs(n=20, centers=2, seed=0)
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.0)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0, eps=0.0)
    with pytest.raises(ValueError, match="needs val_data"):
        fit(model, (X, y), "cross_entropy", opt, 1, scheduler=sched, progress=False)
    opt.param_groups[0]["lr"] = 1e-12  # tiny: val_loss stays flat, so the rate halves
    fit(model, (X, y), "cross_entropy", opt, 3, val_data=(X, y), scheduler=sched,
        progress=False)
    assert sched.best < float("inf") and opt.param_groups[0]["lr"] < 1e-12


def test_clip_grad_norm_limits_the_update():
    X = numpy.full((4, 1), 100.0, dtype=numpy.float32)
    y = numpy.full((4, 1), -100.0, dtype=numpy.float32)
    model = nn.Linear(1, 1, bias=False)
    with nerve.no_grad():
        model.weight.fill_(1.0)
    fit(model, (X, y), "mse", optim.SGD(model.parameters(), lr=1.0), epochs=1, batch_size=4,
        clip_grad_norm=0.5, metrics=(), progress=False)
    # the raw gradient is huge; clipped to norm 0.5, one SGD step with lr 1 moves w by 0.5
    assert model.weight.item() == pytest.approx(0.5, abs=1e-5)


def test_hooks_run_in_order_with_batch_logs():
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs=None):
            calls.append(f"batch {batch} size {logs['size']}")
            assert set(logs) == {"loss", "accuracy", "size"}

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"epoch_end {epoch}")

        def on_train_end(self, logs=None):
            calls.append("train_end")

    X, y = xor()
    model = _xor_model()
    fit(model, (X, y), "cross_entropy", optim.SGD(model.parameters(), lr=0.1), 2,
        callbacks=[Recorder()], batch_size=3, progress=False)
    assert calls == ["train_begin", "epoch_begin 0", "batch 0 size 3", "batch 1 size 1",
                     "epoch_end 0", "epoch_begin 1", "batch 0 size 3", "batch 1 size 1",
                     "epoch_end 1", "train_end"]


def test_a_callback_can_stop_training():
    class StopAfterOne(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.trainer.stop_training = True

    model = _xor_model()
    history = fit(model, xor(), "cross_entropy", optim.SGD(model.parameters(), lr=0.1), 10,
                  callbacks=[StopAfterOne()], progress=False)
    assert len(history) == 1


def test_evaluate_restores_train_mode_and_predict_keeps_order():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    X, y = xor()
    result = evaluate(model, DataLoader(TensorDataset(X, y), batch_size=3), metrics=())
    assert result == {} and model.training
    out = predict(model, (X, y), batch_size=3).numpy()  # eval mode: no dropout
    numpy.testing.assert_allclose(out, model.eval()(nerve.tensor(X)).detach().numpy(),
                               rtol=1e-6)


def test_trainer_can_be_reused_and_history_continues():
    model = _xor_model()
    trainer = Trainer(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.05),
                      progress=False)
    trainer.fit(xor(), epochs=2)
    history = trainer.fit(xor(), epochs=5)
    assert isinstance(history, History) and history.epoch == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(loss="hinge"), ValueError, "unknown loss 'hinge'"),
    (dict(metrics=("acc", "f2")), ValueError, "unknown metric 'f2'"),
    (dict(epochs=-1), ValueError, "epochs must be"),
    (dict(train_data="xor"), TypeError, "expected a DataLoader"),
    (dict(train_data=TensorDataset(numpy.zeros((3, 2)))), ValueError, "expected batches of"),
])
def test_bad_arguments_fail_clearly(kwargs, error, match):
    model = _xor_model()
    args = dict(model=model, train_data=xor(), loss="cross_entropy",
                optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fit(**args)
