"""Linear classifiers: logistic regression and Rosenblatt's perceptron.

Both are one ``Linear`` layer ``scores = W x + b`` on flattened inputs (2-D points or MNIST
images); they differ only in the criterion they minimise, which each model names with its
``criterion`` method (the ``points`` task trains with it):

- ``logreg``: multinomial logistic regression (softmax regression; Cox, 1958), cross-entropy
  on the softmax of the scores. Convex, smooth: gradient descent converges, also when the
  classes overlap.
- ``perceptron``: Rosenblatt (1958), "The perceptron: a probabilistic model for information
  storage and organization in the brain". The perceptron criterion is a hinge at 0,
  ``max(0, max_{j != y} s_j - s_y)``: zero on correctly classified points, so only mistakes
  move the weights. Its gradient for a mistake on ``(x, y)`` with prediction ``p`` is ``+x``
  on row ``p`` and ``-x`` on row ``y``, so plain SGD with batch size 1 and learning rate 1 is
  exactly the (multi-class) perceptron rule ``w_y += x, w_p -= x``; larger batches give the
  batch perceptron. On separable data it stops after finitely many mistakes (Novikoff, 1962);
  on non-separable data some point is always misclassified and the weights never settle.

The weights start at the default small random ``Linear`` initialisation: at ``W = 0`` every
score ties and the perceptron criterion sits on its trivial minimum (zero loss, zero
gradient). ``nerve train logreg --dataset mnist`` trains the same model on images
(``in_features`` = 784, ``num_classes`` = 10 come from the data).

>>> import nerve
>>> model = Perceptron(in_features=2, num_classes=2)
>>> scores = model(nerve.tensor([[1.0, 2.0], [0.0, -1.0]]))
>>> scores.shape, model.criterion(scores, nerve.tensor([0, 1])).shape
((2, 2), ())
"""
from __future__ import annotations

from .. import nn
from .registry import register_model

__all__ = ["LogisticRegression", "Perceptron", "perceptron_loss"]


def perceptron_loss(scores, target):
    """Mean perceptron criterion ``max(0, max_{j != y} s_j - s_y)`` of ``(N, C)`` scores.

    >>> import nerve
    >>> s = nerve.tensor([[2.0, 0.5], [1.0, 3.0]])
    >>> perceptron_loss(s, nerve.tensor([0, 0])).item()  # one mistake, by a margin of 2
    1.0
    """
    from ..nn import functional as F

    onehot = F.one_hot(target, scores.shape[1]).to(scores.dtype)
    true = (scores * onehot).sum(axis=1)
    # the best wrong class: push the true class far down before taking the max
    other = (scores - onehot * 1e30).max(axis=1)
    return F.relu(other - true).mean()


class _Linear(nn.Module):
    def __init__(self, in_features: int = 2, num_classes: int = 2):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(self.flatten(x))


_TRAIN = {"task": "points", "dataset": "blobs", "optimizer": "sgd", "momentum": 0.0,
          "weight_decay": 0.0, "schedule": "none"}


@register_model("logreg")
class LogisticRegression(_Linear):
    """Softmax (multinomial logistic) regression: one Linear layer + cross-entropy."""

    default_config = {"in_features": 2, "num_classes": 2}
    train_defaults = {**_TRAIN, "lr": 0.5, "batch_size": 32, "epochs": 20}

    def criterion(self, scores, target):
        return nn.functional.cross_entropy(scores, target)


@register_model("perceptron")
class Perceptron(_Linear):
    """Rosenblatt's perceptron: one Linear layer trained on mistakes only (see the module)."""

    default_config = {"in_features": 2, "num_classes": 2}
    train_defaults = {**_TRAIN, "lr": 1.0, "batch_size": 1, "epochs": 20}

    def criterion(self, scores, target):
        return perceptron_loss(scores, target)
