"""A multilayer perceptron: ``784-512-512-10`` with ReLU and dropout by default."""
from __future__ import annotations

from .. import nn
from .registry import register_model


@register_model("mlp")
class MLP(nn.Module):
    """Fully connected layers with ReLU and dropout after each hidden layer.

    Inputs of any shape ``(N, ...)`` are flattened to ``(N, in_features)``, so MNIST images
    ``(N, 1, 28, 28)`` go in as they are. Dropout (Srivastava et al., 2014) is the classic
    regularizer of this network; with the default training recipe it reaches about 98.4% on
    the MNIST test set in 10 epochs (see README.md, "Results").

    >>> import nerve
    >>> MLP()(nerve.zeros(2, 1, 28, 28)).shape
    (2, 10)
    """

    default_config = {"in_features": 784, "hidden": (512, 512), "num_classes": 10,
                      "dropout": 0.2}
    train_defaults = {"dataset": "mnist", "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
                      "weight_decay": 0.0, "batch_size": 128, "epochs": 10,
                      "schedule": "cosine"}

    def __init__(self, in_features: int = 784, hidden=(512, 512), num_classes: int = 10,
                 dropout: float = 0.2):
        super().__init__()
        layers = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
