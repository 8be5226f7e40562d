"""Task families for the command line: how each kind of model trains, is tested and samples.

>>> from nerve.tasks import get_task
>>> get_task("classify").monitor
'val_accuracy'
"""
from . import classify  # noqa: F401  (importing a task module registers it)
from .base import TASKS, Run, Task, TaskData, get_task, register_task

__all__ = ["TASKS", "Run", "Task", "TaskData", "get_task", "register_task", "task_of"]


def task_of(spec) -> Task:
    """The task of a registered model class (``train_defaults["task"]``, default classify)."""
    return get_task(spec.train_defaults.get("task", "classify"))
