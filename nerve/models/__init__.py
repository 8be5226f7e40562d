"""The model zoo. Each model registers itself by name (see ``registry``), which is how
``nerve train NAME`` and ``get_model`` find it.

>>> from nerve.models import get_model, list_models
>>> {'lenet', 'mlp'} <= set(list_models())
True
"""
# importing a model file registers it
from . import (  # noqa: F401
    char_rnn,
    densenet_small,
    gan,
    lenet,
    linear,
    mlp,
    resnet18,
    resnet20,
    segnet,
    seq2seq,
    transformer_lm,
    vae,
    vgg_small,
    word2vec,
)
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
