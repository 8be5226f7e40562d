"""A small DenseNet-BC for CIFAR-10 (Huang et al., 2017)."""
from __future__ import annotations

import nerve

from .. import nn
from ..nn import functional as F
from ._cnn import check_images, he_init
from .registry import register_model


def _bn_relu_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """The pre-activation composite function of DenseNet: BN - ReLU - conv."""
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size,
                                   padding=kernel_size // 2, bias=False))


class DenseLayer(nn.Module):
    """Bottleneck layer (the "B" of DenseNet-BC): 1x1 conv to ``4 * growth`` channels, 3x3
    conv to ``growth`` new feature maps, concatenated to its input.

    >>> DenseLayer(24, 12)(nerve.zeros(2, 24, 8, 8)).shape
    (2, 36, 8, 8)
    """

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: int = 4):
        super().__init__()
        self.body = nn.Sequential(_bn_relu_conv(in_channels, bottleneck * growth_rate, 1),
                                  _bn_relu_conv(bottleneck * growth_rate, growth_rate, 3))

    def forward(self, x):
        return nerve.cat([x, self.body(x)], dim=1)


class Transition(nn.Module):
    """Between dense blocks: BN - ReLU - 1x1 conv (compressing the channels: the "C") - 2x2
    average pooling."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = _bn_relu_conv(in_channels, out_channels, 1)

    def forward(self, x):
        return F.avg_pool2d(self.body(x), 2)


@register_model("densenet_small")
class DenseNetSmall(nn.Module):
    """DenseNet-BC: three dense blocks in which every layer receives the feature maps of all
    earlier layers of its block (concatenated), with compressing transitions between them.

    G. Huang, Z. Liu, L. van der Maaten and K. Q. Weinberger, "Densely connected
    convolutional networks", CVPR 2017. The default is a DenseNet-BC of depth 28 (3 blocks
    of 4 bottleneck layers, 3 x 4 x 2 + 4 = 28 layers), growth rate k = 12 and compression
    0.5: 0.1M parameters, sized to train in minutes on a CPU (its many narrow convolutions
    and concatenations make it about twice as slow per image as ResNet-20 here).
    ``layers=(6, 6, 6)`` is DenseNet-BC-40; the paper's DenseNet-BC (L=100, k=12) is
    ``layers=(16, 16, 16)`` (0.8M parameters, 4.5% error on CIFAR-10 with augmentation after
    300 epochs).

    >>> DenseNetSmall()(nerve.zeros(2, 3, 32, 32)).shape
    (2, 10)
    """

    default_config = {"in_channels": 3, "num_classes": 10, "growth_rate": 12,
                      "layers": (4, 4, 4), "compression": 0.5}
    train_defaults = {"task": "classify", "dataset": "cifar10", "optimizer": "sgd", "lr": 0.1,
                      "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 64, "epochs": 10,
                      "schedule": "cosine"}

    def __init__(self, in_channels: int = 3, num_classes: int = 10, growth_rate: int = 12,
                 layers=(4, 4, 4), compression: float = 0.5):
        super().__init__()
        if not 0 < compression <= 1:
            raise ValueError(f"DenseNetSmall: compression must lie in (0, 1], got {compression}")
        self.in_channels = in_channels
        c = 2 * growth_rate
        modules = [nn.Conv2d(in_channels, c, 3, padding=1, bias=False)]
        for i, n in enumerate(layers):
            for _ in range(n):
                modules.append(DenseLayer(c, growth_rate))
                c += growth_rate
            if i < len(layers) - 1:
                out = int(c * compression)
                modules.append(Transition(c, out))
                c = out
        modules += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*modules)
        self.fc = nn.Linear(c, num_classes)
        he_init(self)

    def forward(self, x):
        check_images("DenseNetSmall", x, self.in_channels)
        return self.fc(self.features(x))
