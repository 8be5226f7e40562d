"""Progress display for ``fit``: bars on a terminal, one plain line per epoch elsewhere.

On a terminal with ``tqdm`` installed (``pip install "nerve[progress]"``) an outer bar counts
epochs and an inner bar the samples of the current epoch, showing the running loss and
metrics, samples/s and the ETA. When output goes to a file or a pipe (or tqdm is missing),
nothing is redrawn: each epoch prints one line with its numbers, throughput and time.
"""
from __future__ import annotations

import sys
import time

from .callbacks import Callback

__all__ = ["ProgressBar", "format_logs", "interactive", "tqdm_or_none", "iterate"]


def tqdm_or_none():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def interactive(stream=None) -> bool:
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4f}"
    return str(value)


def format_logs(logs: dict, skip=("time", "samples_per_s", "lr", "size")) -> str:
    return "  ".join(f"{k} {_fmt(v)}" for k, v in logs.items() if k not in skip)


def iterate(iterable, total=None, desc: str = "", enabled: bool = True, unit: str = "batch"):
    """``iterable`` wrapped in a tqdm bar when enabled, on a terminal and tqdm is installed."""
    tqdm = tqdm_or_none()
    if not enabled or tqdm is None or not interactive():
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=False, file=sys.stdout)


class ProgressBar(Callback):
    """The progress display ``fit(progress=True)`` adds. ``mode``: ``"auto"`` (bars on a
    terminal when tqdm is installed, lines otherwise), ``"bar"`` or ``"lines"``."""

    order = 100  # after the callbacks that add to the logs

    def __init__(self, mode: str = "auto", stream=None):
        if mode not in ("auto", "bar", "lines"):
            raise ValueError(f"ProgressBar: mode must be 'auto', 'bar' or 'lines', got {mode!r}")
        self.stream = stream
        tqdm = tqdm_or_none()
        if mode == "auto":
            mode = "bar" if tqdm is not None and interactive(self._out()) else "lines"
        if mode == "bar" and tqdm is None:
            raise ImportError("ProgressBar(mode='bar') needs tqdm: pip install 'nerve[progress]'")
        self.mode, self._tqdm = mode, tqdm
        self._epochs = self._batches = None

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def on_train_begin(self, logs=None):
        t = self.trainer
        if self.mode == "bar":
            self._epochs = self._tqdm(total=t.epochs, initial=t.start_epoch, desc="epochs",
                                      unit="epoch", file=self._out(), position=0)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        if self.mode == "bar":
            total = self.trainer.samples_per_epoch
            self._batches = self._tqdm(total=total, desc=f"epoch {epoch + 1}", unit="sample",
                                       unit_scale=True, leave=False, file=self._out(),
                                       position=1, mininterval=0.2)

    def on_batch_end(self, batch, logs=None):
        if self._batches is not None:
            self._batches.update(logs.get("size", 0))
            self._batches.set_postfix_str(format_logs(logs), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        line = (f"epoch {epoch + 1}/{self.trainer.epochs}  {format_logs(logs)}  "
                f"{logs.get('samples_per_s', 0):.0f} samples/s  {logs.get('time', 0):.1f}s")
        if self.mode == "bar":
            self._batches.close()
            self._batches = None
            self._epochs.update(1)
            self._epochs.write(line, file=self._out())
        else:
            print(line, file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        for bar in (self._batches, self._epochs):
            if bar is not None:
                bar.close()
        self._epochs = self._batches = None
