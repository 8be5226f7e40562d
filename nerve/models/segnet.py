"""SegNet (Badrinarayanan, Kendall and Cipolla, 2017): an encoder-decoder for semantic
segmentation whose decoder upsamples by max-unpooling with the encoder's pooling indices."""
from __future__ import annotations

from .. import nn
from .registry import register_model


def _conv_bn_relu(cin: int, cout: int) -> list:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def _stage(cin: int, cout: int, convs: int) -> nn.Sequential:
    """``convs`` conv-BN-ReLU layers, the first from ``cin`` to ``cout`` channels."""
    layers = _conv_bn_relu(cin, cout)
    for _ in range(convs - 1):
        layers += _conv_bn_relu(cout, cout)
    return nn.Sequential(*layers)


@register_model("segnet_small")
class SegNetSmall(nn.Module):
    """SegNet, small: an encoder-decoder that upsamples by unpooling with the pooling indices.

    Images ``(N, in_channels, H, W)`` in, per-pixel class scores ``(N, num_classes, H, W)``
    out.

    V. Badrinarayanan, A. Kendall and R. Cipolla, "SegNet: A Deep Convolutional
    Encoder-Decoder Architecture for Image Segmentation", IEEE TPAMI 39(12):2481-2495, 2017.

    Encoder stage ``i``: ``convs_per_stage`` x (3x3 conv - BatchNorm - ReLU) to
    ``channels[i]`` channels, then 2x2 max pooling that keeps the argmax positions. Decoder
    stage ``i`` (deepest first): max-unpooling with those indices (each value goes back where
    its maximum came from, zeros elsewhere: a sparse map that the following convolutions
    densify), then the convolutions back to ``channels[i - 1]`` channels (``channels[0]`` for
    the last stage). A 1x1 convolution gives the class scores. Nothing but the indices crosses
    from encoder to decoder: unlike U-Net, no feature maps are copied over, which is what makes
    SegNet memory-light.

    ``nerve train segnet_small`` (task ``segment``) trains it on 64x64 canvases of 1-3 MNIST
    digits with the per-pixel cross-entropy weighted by median frequency balancing, as in the
    paper. The default (3 stages of 16/32/64 channels, one convolution each: 49,067
    parameters, 5 epochs) takes minutes on a 2-core CPU; larger: ``--config
    convs_per_stage=2``, ``--config "channels=(32, 64, 128)"``, more ``--epochs``. The paper's
    network has ``channels=(64, 128, 256, 512, 512)`` with VGG-16's 2-2-3-3-3 convolutions per
    stage (``convs_per_stage=3`` is a uniform stand-in), on 360x480 CamVid images.

    >>> import nerve
    >>> SegNetSmall(num_classes=11)(nerve.zeros(2, 1, 64, 64)).shape
    (2, 11, 64, 64)
    """

    default_config = {"in_channels": 1, "num_classes": 11, "channels": (16, 32, 64),
                      "convs_per_stage": 1}
    train_defaults = {"task": "segment", "dataset": "mnist-canvas", "optimizer": "adam",
                      "lr": 0.01, "momentum": 0.0, "weight_decay": 0.0, "batch_size": 32,
                      "epochs": 5, "schedule": "cosine", "class_weights": "median-frequency"}

    def __init__(self, in_channels: int = 1, num_classes: int = 11, channels=(16, 32, 64),
                 convs_per_stage: int = 1):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if not channels or min(channels) < 1 or convs_per_stage < 1:
            raise ValueError(f"SegNetSmall: expected positive channels and convs_per_stage, got "
                             f"channels={channels}, convs_per_stage={convs_per_stage}")
        ins = (in_channels,) + channels[:-1]
        self.encoders = nn.ModuleList([_stage(a, b, convs_per_stage)
                                       for a, b in zip(ins, channels)])
        outs = (channels[0],) + channels[:-1]  # decoder stage i maps channels[i] -> outs[i]
        self.decoders = nn.ModuleList([_stage(b, a, convs_per_stage)
                                       for a, b in zip(outs, channels)])
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)
        self.classifier = nn.Conv2d(channels[0], num_classes, 1)

    def forward(self, x):
        depth = len(self.encoders)
        if x.ndim != 4 or min(x.shape[2:]) < 2 ** depth:
            raise ValueError(f"SegNetSmall: expected images (N, C, H, W) with H and W at least "
                             f"{2 ** depth} (one halving per stage), got {tuple(x.shape)}")
        skips = []  # (pooling indices, size before pooling) per stage
        for encoder in self.encoders:
            x = encoder(x)
            size = tuple(x.shape[2:])
            x, indices = self.pool(x)
            skips.append((indices, size))
        for decoder, (indices, size) in zip(reversed(self.decoders), reversed(skips)):
            x = decoder(self.unpool(x, indices, output_size=size))
        return self.classifier(x)
