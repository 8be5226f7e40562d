"""Task families for the command line: how each kind of model trains, is tested and samples.

>>> from nerve.tasks import get_task
>>> get_task("classify").monitor
'val_accuracy'
"""
# importing a task module registers it
from . import classify, gan, language, points, segment, translate, vae, word2vec  # noqa: F401
from .base import TASKS, Run, Task, TaskData, get_task, register_task

__all__ = ["TASKS", "Run", "Task", "TaskData", "get_task", "register_task", "task_of"]


def task_of(spec) -> Task:
    """The task of a registered model class (``train_defaults["task"]``, default classify)."""
    return get_task(spec.train_defaults.get("task", "classify"))
