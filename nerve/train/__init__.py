"""Training: the ``fit`` loop, callbacks, metrics, checkpoints, progress display and plots.

>>> import nerve, nerve.nn as nn, nerve.optim as optim
>>> from nerve.data.datasets import two_moons
>>> from nerve.train import EarlyStopping, evaluate, fit
>>> nerve.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
>>> history = fit(model, two_moons(200, seed=0), nn.CrossEntropyLoss(),
...               optim.Adam(model.parameters(), lr=0.05), epochs=30,
...               val_data=two_moons(100, seed=1), progress=False,
...               callbacks=[EarlyStopping("val_loss", patience=5)])
>>> evaluate(model, two_moons(100, seed=2))["accuracy"] > 0.95
True
"""
from . import metrics, plots
from .callbacks import (
                        Callback,
                        CallbackList,
                        CSVLogger,
                        EarlyStopping,
                        JSONLogger,
                        LambdaCallback,
                        LRSchedulerCallback,
                        ModelCheckpoint,
)
from .checkpoint import (
                        CheckpointError,
                        checkpoint_state,
                        load_checkpoint,
                        restore,
                        resume,
                        save_checkpoint,
)
from .fit import History, Trainer, as_loader, evaluate, fit, predict
from .metrics import accuracy, confusion_matrix, perplexity, precision_recall, top_k_accuracy
from .progress import ProgressBar

__all__ = ["CSVLogger", "Callback", "CallbackList", "CheckpointError", "EarlyStopping",
           "History", "JSONLogger", "LRSchedulerCallback", "LambdaCallback", "ModelCheckpoint",
           "ProgressBar", "Trainer", "accuracy", "as_loader", "checkpoint_state",
           "confusion_matrix", "evaluate", "fit", "load_checkpoint", "metrics", "perplexity",
           "plots", "precision_recall", "predict", "restore", "resume", "save_checkpoint",
           "top_k_accuracy"]
