"""The progress display: plain lines off a terminal, tqdm bars on one."""
import io

import pytest

import nerve
import nerve.nn as nn
import nerve.optim as optim
from nerve.data.datasets import xor
from nerve.train import ProgressBar, fit
from nerve.train.progress import format_logs, interactive


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _fit(progress, epochs=2):
    nerve.manual_seed(0)
    model = nn.Linear(2, 2)
    return fit(model, xor(), "cross_entropy", optim.SGD(model.parameters(), lr=0.1), epochs,
               val_data=xor(), progress=progress, batch_size=2)


def test_off_a_terminal_one_plain_line_per_epoch():
    out = io.StringIO()
    assert not interactive(out)
    history = _fit(ProgressBar(stream=out), epochs=3)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3  loss ")
    assert f"val_accuracy {history['val_accuracy'][2]:.4f}" in lines[2]
    assert "samples/s" in lines[0] and "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_progress_false_prints_nothing(capsys):
    _fit(False)
    assert capsys.readouterr().out == ""


def test_on_a_terminal_tqdm_draws_bars():
    pytest.importorskip("tqdm")
    out = _Terminal()
    bar = ProgressBar(stream=out)
    assert bar.mode == "bar"
    _fit(bar)
    text = out.getvalue()
    assert "epochs" in text and "sample" in text and "epoch 2/2  loss" in text


def test_without_tqdm_bar_mode_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="nerve\\[progress\\]"):
        ProgressBar(mode="bar")
    assert ProgressBar(stream=_Terminal()).mode == "lines"


def test_format_logs_rounds_and_skips_timing():
    assert format_logs({"loss": 0.123456, "time": 3.0, "lr": 0.1, "x": 2e-5}) == \
        "loss 0.1235  x 2e-05"
