"""A small VGG network for CIFAR-10 (Simonyan & Zisserman, 2015), with batch norm and dropout."""
from __future__ import annotations

from .. import nn
from ._cnn import check_images, conv_bn, he_init
from .registry import register_model


@register_model("vgg_small")
class VGGSmall(nn.Module):
    """VGG-style: stacks of 3x3 conv-BN-ReLU, 2x2 max pooling after each stack, then a
    dropout-regularized classifier.

    K. Simonyan and A. Zisserman, "Very deep convolutional networks for large-scale image
    recognition", ICLR 2015: only 3x3 convolutions, the width doubling after each pooling.
    Batch normalization (Ioffe and Szegedy, 2015) after each convolution and dropout
    (Srivastava et al., 2014) in the classifier follow the common CIFAR adaptation of VGG.
    The default, three stacks of two convolutions with 32/64/128 filters (0.8M parameters,
    about 38M multiply-adds per image, like ResNet-20), trains in minutes on a CPU; the
    CIFAR VGG-16 of the literature is ``widths=(64, 128, 256, 512, 512)`` with
    ``convs=(2, 2, 3, 3, 3)`` and ``hidden=512`` (about 93% on full CIFAR-10, 15M parameters).

    >>> import nerve
    >>> VGGSmall()(nerve.zeros(2, 3, 32, 32)).shape
    (2, 10)
    """

    default_config = {"in_channels": 3, "num_classes": 10, "widths": (32, 64, 128),
                      "convs": (2, 2, 2), "hidden": 256, "dropout": 0.25, "image_size": 32}
    train_defaults = {"task": "classify", "dataset": "cifar10", "optimizer": "sgd", "lr": 0.05,
                      "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128, "epochs": 15,
                      "schedule": "cosine"}

    def __init__(self, in_channels: int = 3, num_classes: int = 10, widths=(32, 64, 128),
                 convs=(2, 2, 2), hidden: int = 256, dropout: float = 0.25,
                 image_size: int = 32):
        super().__init__()
        if len(widths) != len(convs):
            raise ValueError(f"VGGSmall: widths {widths} and convs {convs} must have one entry "
                             f"per stack")
        if image_size % 2 ** len(widths):
            raise ValueError(f"VGGSmall: image_size {image_size} must be divisible by "
                             f"{2 ** len(widths)} (one 2x2 pooling per stack)")
        self.in_channels, self.image_size = in_channels, image_size
        layers, c = [], in_channels
        for w, n in zip(widths, convs):
            for _ in range(n):
                layers.append(conv_bn(c, w))
                c = w
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = image_size // 2 ** len(widths)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * side * side, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        he_init(self)

    def forward(self, x):
        check_images("VGGSmall", x, self.in_channels)
        if tuple(x.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(f"VGGSmall: built for {self.image_size}x{self.image_size} images "
                             f"(config image_size), got {tuple(x.shape)}")
        return self.classifier(self.features(x))
