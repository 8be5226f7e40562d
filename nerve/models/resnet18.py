"""ResNet-18 (He et al., 2016), the ImageNet network adapted to 32x32 CIFAR-10 images."""
from __future__ import annotations

from .registry import register_model
from .resnet20 import CifarResNet


@register_model("resnet18")
class ResNet18(CifarResNet):
    """ResNet-18: four stages of two basic blocks with 64/128/256/512 filters.

    K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
    CVPR 2016, Table 1. For 32x32 inputs the 7x7 stride-2 stem and the max pooling are
    replaced by one 3x3 stride-1 convolution (the usual CIFAR adaptation), so the stages run
    on 32x32, 16x16, 8x8 and 4x4 maps; shortcuts that change shape are 1x1 projections
    (option B). 11.2M parameters and about 0.56 GFLOPs (multiply-adds) per image, some 14
    times ResNet-20's: it is HEAVY ON A CPU (minutes per epoch on the 4,000 CIFAR images)
    and meant for a GPU or for patience. With 200 epochs of SGD on full CIFAR-10 (lr 0.1,
    cosine, weight decay 5e-4, crops and flips) it reaches about 95%; the default here
    (10 epochs on the shared 4,000-image subset) is a demonstration. ``width`` scales every
    stage (``--config width=16`` gives a CPU-sized variant with 1/16 of the work).

    >>> import nerve
    >>> ResNet18(width=8)(nerve.zeros(2, 3, 32, 32)).shape
    (2, 10)
    """

    default_config = {"in_channels": 3, "num_classes": 10, "width": 64, "blocks": (2, 2, 2, 2)}
    train_defaults = {**CifarResNet.train_defaults, "epochs": 10}

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 64,
                 blocks=(2, 2, 2, 2)):
        widths = tuple(width * 2 ** stage for stage in range(len(blocks)))
        super().__init__(in_channels, num_classes, blocks, widths, shortcut="B")
