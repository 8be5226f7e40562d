"""Variational autoencoders (Kingma & Welling, 2014): an MLP one and a convolutional one.

D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014. The encoder gives
a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))), the decoder Bernoulli logits for every
pixel of p(x|z), the prior is N(0, I). Training maximizes the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)) <= log p(x),

estimated with one sample z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (the
reparametrization trick: z is a differentiable function of the encoder's outputs, so the
gradient of the sampled bound reaches the encoder). ``negative_elbo`` is the loss, in nats
per image; the KL term has its closed form.
"""
from __future__ import annotations

from .. import nn
from ..ops import creation
from .registry import register_model

__all__ = ["VAE", "ConvVAE", "negative_elbo", "elbo_terms"]


def elbo_terms(output, x):
    """``(reconstruction, kl)``: the batch means of -log p(x|z) (Bernoulli, summed over
    pixels) and of KL(q(z|x) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar)), in nats.
    ``output`` is a VAE's ``(logits, mu, logvar)``; ``x`` holds the targets in [0, 1]."""
    from ..nn import functional as F

    logits, mu, logvar = output
    n = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum() / n
    return recon, kl


def negative_elbo(output, x):
    """The VAE loss: -ELBO per image, in nats (``reconstruction + kl``)."""
    recon, kl = elbo_terms(output, x)
    return recon + kl


class _VAE(nn.Module):
    """What both VAEs share: the reparametrized forward pass and sampling from the prior."""

    latent_dim: int

    def reparameterize(self, mu, logvar):
        """z = mu + sigma * eps with eps ~ N(0, I): a sample of q(z|x) that stays
        differentiable in mu and logvar."""
        return mu + (0.5 * logvar).exp() * creation.randn_like(mu)

    def forward(self, x):
        """``(logits, mu, logvar)``: the decoder's Bernoulli logits for one sample of q(z|x)
        (in eval mode too, so that the loss stays a bound on log p(x)), and q's parameters."""
        self._check(x)
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    def sample(self, n: int):
        """Pixel means sigmoid(decoder(z)) of ``n`` draws z ~ N(0, I), shape (n, 1, 28, 28)."""
        device = next(iter(self.parameters())).device
        return self.decode(creation.randn(n, self.latent_dim, device=device)).sigmoid()

    def _check(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels, 28, 28):
            raise ValueError(f"{type(self).__name__}: expected images of shape "
                             f"(N, {self.in_channels}, 28, 28), got {tuple(x.shape)}")


@register_model("vae")
class VAE(_VAE):
    """MLP variational autoencoder (Kingma & Welling 2014), 784-400-20 by default.

    Encoder ``784-400-(mu, logvar: 20)``, decoder ``20-400-784``, ReLU (tanh in the paper,
    which used 500 hidden units for MNIST). Trained with Adam (lr 1e-3, batch 128) on
    dynamically binarized MNIST, the default 50 epochs (about 5 minutes on two CPU cores)
    reach a test negative ELBO of 98.3 nats; it is below 105 after 8 epochs (see
    docs/results/vae.md). ``--config latent_dim=2`` adds the 2-d latent manifold plot.

    >>> import nerve
    >>> logits, mu, logvar = VAE()(nerve.zeros(3, 1, 28, 28))
    >>> logits.shape, mu.shape, logvar.shape
    ((3, 1, 28, 28), (3, 20), (3, 20))
    """

    default_config = {"in_channels": 1, "hidden": 400, "latent_dim": 20}
    train_defaults = {"task": "vae", "dataset": "mnist", "optimizer": "adam", "lr": 1e-3,
                      "batch_size": 128, "epochs": 50, "schedule": "none"}

    def __init__(self, in_channels: int = 1, hidden: int = 400, latent_dim: int = 20):
        super().__init__()
        self.in_channels, self.latent_dim = in_channels, latent_dim
        pixels = in_channels * 28 * 28
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, pixels),
                                     nn.Unflatten(1, (in_channels, 28, 28)))

    def encode(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.decoder(z)


@register_model("conv_vae")
class ConvVAE(_VAE):
    """Convolutional VAE: strided convolutions in, transposed convolutions out.

    Encoder ``conv(32, 4, s2)-conv(64, 4, s2)`` (28 -> 14 -> 7) then linear layers to (mu,
    logvar); the decoder mirrors it with transposed convolutions (7 -> 14 ->
    28). ``width`` scales the channels (width=32 default; 64 for the larger model).

    >>> import nerve
    >>> ConvVAE(width=8, latent_dim=2)(nerve.zeros(2, 1, 28, 28))[0].shape
    (2, 1, 28, 28)
    """

    default_config = {"in_channels": 1, "width": 32, "latent_dim": 20}
    train_defaults = {"task": "vae", "dataset": "mnist", "optimizer": "adam", "lr": 1e-3,
                      "batch_size": 128, "epochs": 10, "schedule": "none"}

    def __init__(self, in_channels: int = 1, width: int = 32, latent_dim: int = 20):
        super().__init__()
        self.in_channels, self.latent_dim = in_channels, latent_dim
        flat = 2 * width * 7 * 7
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        self.mu = nn.Linear(flat, latent_dim)
        self.logvar = nn.Linear(flat, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, flat), nn.ReLU(), nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(width, in_channels, 4, stride=2, padding=1))

    def encode(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.decoder(z)
