"""The model zoo. Each model registers itself by name (see ``registry``), which is how
``nerve train NAME`` and ``get_model`` find it.

>>> from nerve.models import get_model, list_models
>>> list_models()[:2]
['lenet', 'mlp']
"""
from . import lenet, mlp  # noqa: F401  (importing a model file registers it)
from .lenet import LeNet5
from .mlp import MLP
from .registry import (
                       UnknownModelError,
                       from_checkpoint,
                       get_model,
                       list_models,
                       model_spec,
                       register_model,
)

__all__ = ["LeNet5", "MLP", "UnknownModelError", "from_checkpoint", "get_model", "list_models",
           "model_spec", "register_model"]
