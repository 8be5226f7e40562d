"""LeNet-5 (LeCun et al., 1998), as it is usually built today: ReLU and max pooling."""
from __future__ import annotations

from .. import nn
from .registry import register_model


@register_model("lenet")
class LeNet5(nn.Module):
    """LeNet-5: ``conv(1,6,5,pad=2)-ReLU-maxpool-conv(6,16,5)-ReLU-maxpool-fc120-fc84-fc10``.

    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to
    document recognition", Proceedings of the IEEE 86(11):2278-2324, 1998. The original used
    scaled tanh units, subsampling layers with trainable coefficients and a partially
    connected C3 layer; this is the common modern variant (ReLU, max pooling, full C3). The
    padding of 2 lets 28x28 MNIST digits stand in for the paper's 32x32 inputs.

    >>> import nerve
    >>> LeNet5()(nerve.zeros(2, 1, 28, 28)).shape
    (2, 10)
    """

    default_config = {"in_channels": 1, "num_classes": 10}
    train_defaults = {"dataset": "mnist", "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
                      "weight_decay": 0.0, "batch_size": 128, "epochs": 10,
                      "schedule": "cosine"}

    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        if x.ndim != 4 or tuple(x.shape[2:]) != (28, 28):
            raise ValueError(f"LeNet5: expected images of shape (N, C, 28, 28), got "
                             f"{tuple(x.shape)}")
        return self.classifier(self.features(x))
