"""Generative adversarial networks: the MLP GAN and the DCGAN, for 28x28 images in [-1, 1].

I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014: a generator G maps noise z
to images, a discriminator D tells them from real ones; D ascends log D(x) + log(1 -
D(G(z))), G ascends log D(G(z)) (the paper's "non-saturating" variant). A. Radford, L. Metz
and S. Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", ICLR 2016: G upsamples with transposed convolutions, batch norm and
ReLU, ending in tanh; D is strided convolutions with LeakyReLU(0.2) and batch norm (none on
its input layer); both trained with Adam (lr 2e-4, betas 0.5, 0.999), weights ~ N(0, 0.02).

A model holds both networks: ``model.generator``, ``model.discriminator``; ``model(z)`` is
G(z) and ``model.sample(n)`` draws n images. With ``ema`` (the default 0.999) the model also
keeps ``generator_ema``, an exponential moving average of G's weights (Y. Yazici et al., "The
Unusual Effectiveness of Averaging in GAN Training", ICLR 2019), which G(z) uses in eval mode:
averaging smooths out the oscillation of adversarial training. The task ``gan``
(nerve/tasks/gan.py) trains both networks with alternating updates.
"""
from __future__ import annotations

from .. import nn
from ..nn import init
from ..ops import creation
from ..optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from .registry import register_model

__all__ = ["GAN", "DCGAN"]


class _GAN(nn.Module):
    latent_dim: int
    generator_ema = None

    def _average_generator(self, ema: float) -> None:
        """Keep ``generator_ema`` (built once the generator is) when ``ema`` > 0."""
        if ema:
            average = get_ema_multi_avg_fn(ema, warmup=True)
            self.generator_ema = AveragedModel(self.generator, multi_avg_fn=average,
                                               use_buffers=True)

    def update_average(self) -> None:
        """Fold the generator's current weights into ``generator_ema`` (after each G step)."""
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

    def forward(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"{type(self).__name__}: expected noise of shape (N, "
                             f"{self.latent_dim}), got {tuple(z.shape)}")
        ema = self.generator_ema
        if not self.training and ema is not None and int(ema.n_averaged.item()) > 0:
            return ema(z)
        return self.generator(z)

    def noise(self, n: int):
        """``n`` draws of z ~ N(0, I) on the model's device."""
        device = next(iter(self.parameters())).device
        return creation.randn(n, self.latent_dim, device=device)

    def sample(self, n: int):
        """``n`` generated images (n, C, 28, 28) in [-1, 1]."""
        return self(self.noise(n))


def _normal_init(module) -> None:
    """DCGAN's initialization: conv/linear weights ~ N(0, 0.02), batch-norm scales ~
    N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            init.normal_(m.weight, 1.0, 0.02)
            init.zeros_(m.bias)


_TRAIN = {"task": "gan", "dataset": "mnist", "optimizer": "adam", "lr": 2e-4,
          "batch_size": 64, "schedule": "none", "classifier_epochs": 10}


@register_model("gan")
class GAN(_GAN):
    """MLP GAN (Goodfellow et al. 2014): fully connected generator and discriminator.

    G ``z(64)-256-512-784`` (ReLU, tanh out), D ``784-512-256-1`` (LeakyReLU
    0.2, dropout 0.3; the paper used maxout units and dropout in D). A larger G (``hidden=
    (256, 512, 1024)``) gives sharper digits.

    >>> import nerve
    >>> GAN()(nerve.zeros(3, 64)).shape
    (3, 1, 28, 28)
    """

    default_config = {"in_channels": 1, "latent_dim": 64, "hidden": (256, 512),
                      "dropout": 0.3, "ema": 0.999}
    train_defaults = {**_TRAIN, "epochs": 15}

    def __init__(self, in_channels: int = 1, latent_dim: int = 64, hidden=(256, 512),
                 dropout: float = 0.3, ema: float = 0.999):
        super().__init__()
        self.in_channels, self.latent_dim = in_channels, latent_dim
        pixels = in_channels * 28 * 28
        layers, width = [], latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.generator = nn.Sequential(*layers, nn.Linear(width, pixels), nn.Tanh(),
                                       nn.Unflatten(1, (in_channels, 28, 28)))
        layers, width = [nn.Flatten()], pixels
        for h in reversed(hidden):
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        self.discriminator = nn.Sequential(*layers, nn.Linear(width, 1))
        self._average_generator(ema)


@register_model("dcgan")
class DCGAN(_GAN):
    """DCGAN (Radford et al. 2016): transposed-convolution G, convolutional D, 28x28 images.

    G: ``z(100) -> linear 2w x 7 x 7 -> convT(w, 4, s2) 14x14 ->
    convT(C, 4, s2) 28x28``, batch norm and ReLU between, tanh out. D: ``conv(w, 4, s2) ->
    conv(2w, 4, s2) -> linear 1``, LeakyReLU(0.2), batch norm on the second conv. The default
    ``width=32`` trains an MNIST epoch in minutes on two CPU cores; ``width=64`` is the usual
    MNIST size (the paper's 64x64 LSUN model has 4 blocks of 128-1024 channels).

    >>> import nerve
    >>> m = DCGAN(width=8)
    >>> m(nerve.zeros(2, 100)).shape, m.discriminator(nerve.zeros(2, 1, 28, 28)).shape
    ((2, 1, 28, 28), (2, 1))
    """

    default_config = {"in_channels": 1, "latent_dim": 100, "width": 32, "ema": 0.999}
    train_defaults = {**_TRAIN, "epochs": 5}

    def __init__(self, in_channels: int = 1, latent_dim: int = 100, width: int = 32,
                 ema: float = 0.999):
        super().__init__()
        self.in_channels, self.latent_dim = in_channels, latent_dim
        w = width
        self.generator = nn.Sequential(
            nn.Linear(latent_dim, 2 * w * 7 * 7, bias=False), nn.BatchNorm1d(2 * w * 7 * 7),
            nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, in_channels, 4, stride=2, padding=1), nn.Tanh())
        self.discriminator = nn.Sequential(
            nn.Conv2d(in_channels, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * w * 7 * 7, 1))
        _normal_init(self)
        self._average_generator(ema)
