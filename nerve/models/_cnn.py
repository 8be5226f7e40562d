"""Pieces shared by the CIFAR-10 convolutional networks (vgg_small, resnet20/plain20,
resnet18, densenet_small): a 3x3 conv-BN-ReLU block, He initialization and an input check."""
from __future__ import annotations

from .. import nn


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
            relu: bool = True) -> nn.Sequential:
    """``conv (no bias: BatchNorm's shift replaces it) - BatchNorm2d [- ReLU]``."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                        padding=kernel_size // 2, bias=False), nn.BatchNorm2d(out_channels)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def he_init(model: nn.Module) -> None:
    """Kaiming-normal convolutions (fan_out, as torchvision's ResNet and DenseNet), BatchNorm
    at weight 1 and bias 0, and zero biases in the Linear layers."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


def check_images(who: str, x, channels: int, min_size: int = 8) -> None:
    """Raise a clear error unless ``x`` is a batch ``(N, channels, H, W)`` of images of at
    least ``min_size`` pixels a side."""
    if x.ndim != 4 or x.shape[1] != channels or min(x.shape[2:]) < min_size:
        raise ValueError(f"{who}: expected images of shape (N, {channels}, H, W) with H, W >= "
                         f"{min_size} (CIFAR-10: 32x32), got {tuple(x.shape)}")
