"""ResNet-20 for CIFAR-10 (He et al., 2016) and plain-20, the same network without shortcuts."""
from __future__ import annotations

from .. import nn
from ..nn import functional as F
from ._cnn import check_images, conv_bn, he_init
from .registry import register_model


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers, ``relu(F(x) + shortcut(x))``; without ``residual`` it is just
    ``relu(F(x))`` (a "plain" block).

    When the block halves the resolution (``stride=2``) and changes the width, the shortcut
    is option A of the paper ("A", parameter-free: subsample and pad the new channels with
    zeros) or option B ("B": a 1x1 convolution with BatchNorm, as in the ImageNet ResNets).

    >>> import nerve
    >>> BasicBlock(16, 32, stride=2)(nerve.zeros(2, 16, 32, 32)).shape
    (2, 32, 16, 16)
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 residual: bool = True, shortcut: str = "A"):
        super().__init__()
        if shortcut not in ("A", "B"):
            raise ValueError(f"BasicBlock: shortcut must be 'A' or 'B', got {shortcut!r}")
        self.body = nn.Sequential(conv_bn(in_channels, out_channels, 3, stride),
                                  conv_bn(out_channels, out_channels, 3, relu=False))
        self.residual = residual
        self.stride = stride
        self.pad = 0  # option A: zero channels added on each side of the shortcut
        self.projection = None
        if residual and (stride != 1 or in_channels != out_channels):
            if shortcut == "B":
                self.projection = conv_bn(in_channels, out_channels, 1, stride, relu=False)
            elif (out_channels - in_channels) % 2 or out_channels < in_channels:
                raise ValueError(f"BasicBlock: option A widens {in_channels} to "
                                 f"{out_channels} channels by even zero padding; use 'B'")
            else:
                self.pad = (out_channels - in_channels) // 2

    def forward(self, x):
        out = self.body(x)
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)

    def shortcut(self, x):
        if self.projection is not None:
            return self.projection(x)
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad, self.pad))
        return x


class CifarResNet(nn.Module):
    """The CIFAR-10 ResNets of He et al. (2016), section 4.2: a 3x3 conv with 16 filters,
    three stages of ``blocks`` basic blocks on 32x32, 16x16 and 8x8 maps with ``widths``
    (16, 32, 64) filters (the first block of each later stage has stride 2), global average
    pooling and a fully connected layer: ``6 * blocks + 2`` weighted layers (20 for 3).
    ``blocks`` may also give one count per stage (ResNet-18 is built this way).
    """

    default_config = {"in_channels": 3, "num_classes": 10, "blocks": 3,
                      "widths": (16, 32, 64), "shortcut": "A"}
    # 4,000 CIFAR images, 15 epochs: 20-25 s an epoch on a quiet core (docs/results)
    train_defaults = {"task": "classify", "dataset": "cifar10", "optimizer": "sgd", "lr": 0.1,
                      "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 128, "epochs": 15,
                      "schedule": "cosine"}
    residual = True

    def __init__(self, in_channels: int = 3, num_classes: int = 10, blocks: int = 3,
                 widths=(16, 32, 64), shortcut: str = "A"):
        super().__init__()
        self.in_channels = in_channels
        self.stem = conv_bn(in_channels, widths[0], 3)
        per_stage = (blocks,) * len(widths) if isinstance(blocks, int) else tuple(blocks)
        layers, width = [], widths[0]
        for stage, (w, n) in enumerate(zip(widths, per_stage)):
            for b in range(n):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(BasicBlock(width, w, stride, self.residual, shortcut))
                width = w
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)
        he_init(self)

    def forward(self, x):
        check_images(type(self).__name__, x, self.in_channels)
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(x.reshape(x.shape[0], -1))


@register_model("resnet20")
class ResNet20(CifarResNet):
    """ResNet-20 (He et al., 2016), the CIFAR-10 variant with identity shortcuts.

    K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
    CVPR 2016, section 4.2: 3 stages of 3 basic blocks with 16/32/64 filters, option A
    (zero-padding) shortcuts, 0.27M parameters. The paper trains 64k iterations at batch 128
    on 45k images (about 160 epochs, lr 0.1 divided by 10 at 32k and 48k, weight decay 1e-4,
    random crops and flips) to 8.75% test error; ``blocks`` = 5, 7, 9, 18 give ResNet-32,
    44, 56, 110. The default here trains 15 epochs with a cosine schedule, which fits the
    4,000-image subset in minutes on a CPU (weight decay 5e-4 for the small set).

    >>> import nerve
    >>> ResNet20()(nerve.zeros(2, 3, 32, 32)).shape
    (2, 10)
    """


@register_model("plain20")
class Plain20(CifarResNet):
    """Plain-20: ResNet-20 without its shortcuts, the "plain" baseline of He et al. (2016).

    The paper's Figure 6 (left) shows plain networks getting *worse* training error as they
    get deeper (20 -> 56 layers), the degradation problem that the shortcuts of ResNet fix;
    examples/degradation.py compares plain-20 with ResNet-20 here.

    >>> import nerve
    >>> Plain20()(nerve.zeros(2, 3, 32, 32)).shape
    (2, 10)
    """

    default_config = {k: v for k, v in CifarResNet.default_config.items() if k != "shortcut"}
    residual = False
