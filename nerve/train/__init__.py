"""Training: the ``fit`` loop, callbacks, metrics, checkpoints, progress display and plots.

>>> from nerve.train import fit, evaluate, EarlyStopping, ModelCheckpoint   # doctest: +SKIP
>>> history = fit(model, train_set, nn.CrossEntropyLoss(), optimizer, epochs=10,
...               val_data=val_set, callbacks=[EarlyStopping("val_loss", patience=3)])
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
