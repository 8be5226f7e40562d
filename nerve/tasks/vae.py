"""Variational autoencoders (vae, conv_vae): the negative ELBO in nats, reconstructions, samples.

Data: MNIST-style 28x28 images, **binarized** so that the Bernoulli likelihood is a proper
probability and the bound in nats compares with the published numbers: the training images
are binarized anew every time they are drawn (dynamic binarization: pixel ~ Bernoulli(gray
level), Salakhutdinov & Murray 2008, as in most VAE papers since), the test images once, with
a fixed seed (0), so that the test number is the same for every model and run. The loss and
every reported number is -ELBO per image in nats: reconstruction (-log p(x|z), one sample of
z) + KL(q(z|x) || N(0, I)).
"""
from __future__ import annotations

import numpy

from ..data import _rng
from . import _images
from .base import ImageTask, Run, TaskData, register_task

TEST_SEED = 0


def binarize(x, generator=None):
    """Pixels in [0, 1] -> {0, 1} samples, each 1 with probability its gray level."""
    rng = _rng.current(generator)
    return (rng.random(x.shape, dtype=numpy.float32) < x).astype(numpy.float32)


@register_task
class VAETask(ImageTask):
    name = "vae"
    metrics = ()
    monitor = "val_loss"

    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        data, notes = _images.load_raw(run, meta)
        train = _images.Autoencoding(_images.pixels(data.train.data), binarize)
        test_images = binarize(_images.pixels(data.test.data),
                               numpy.random.default_rng(TEST_SEED))
        test = _images.Autoencoding(test_images)
        return TaskData(
            data.name, train, None, test, data.source,
            meta={"input_shape": [1, 28, 28], "classes": data.classes,
                  "binarization": f"dynamic (training), fixed with seed {TEST_SEED} (test)"},
            config={"in_channels": 1}, notes=notes,
            extra={"test_labels": numpy.asarray(data.test.targets)})

    def loss(self, run: Run, data: TaskData):
        from ..models.vae import negative_elbo

        return negative_elbo

    def test(self, run: Run, model, data: TaskData) -> dict:
        return evaluate_elbo(model, data.test, run.device, seed=run.seed)

    def summary(self, results: dict) -> str:
        return (f"test -ELBO {results['neg_elbo']:.2f} nats (reconstruction "
                f"{results['reconstruction']:.2f} + KL {results['kl']:.2f})")

    def plots(self, run: Run, model, data: TaskData, history, results: dict) -> list[str]:
        import nerve

        written = super().plots(run, model, data, history, results)
        out = run.out
        x = data.test.images[:32]
        model.eval()
        with nerve.no_grad():
            mu, _ = model.encode(nerve.tensor(x, device=run.device))
            recon = model.decode(mu).sigmoid().numpy()
            nerve.manual_seed(run.seed)
            samples = model.sample(64).numpy()
        pairs = numpy.stack([x.reshape(4, 8, 1, 28, 28), recon.reshape(4, 8, 1, 28, 28)], 1)
        _images.save_grid(pairs.reshape(64, 1, 28, 28), out / "reconstructions.png", 8,
                          "test images (odd rows) and reconstructions (even rows)")
        _images.save_grid(samples, out / "samples.png", 8, "samples from the prior")
        written += ["reconstructions.png", "samples.png"]
        if model.latent_dim == 2:
            plot_manifold(model, out / "manifold.png")
            plot_latent(model, data, run.device, out / "latent.png")
            written += ["manifold.png", "latent.png"]
        return written

    def sample(self, model, meta: dict, args) -> int:
        import nerve

        with nerve.no_grad():
            images = model.sample(args.n or 64).numpy()
        return _images.write_samples(images, meta, args)


def evaluate_elbo(model, dataset, device=None, batch_size: int = 1000, seed: int = 0) -> dict:
    """Mean -ELBO, reconstruction and KL (nats per image) over an ``Autoencoding`` dataset,
    one z sample per image drawn with ``seed``."""
    import nerve

    from ..models.vae import elbo_terms

    nerve.manual_seed(seed)
    model.eval()
    total = numpy.zeros(2)
    with nerve.no_grad():
        for start in range(0, len(dataset), batch_size):
            x = nerve.tensor(dataset.images[start:start + batch_size], device=device)
            recon, kl = elbo_terms(model(x), x)
            total += numpy.array([recon.item(), kl.item()]) * x.shape[0]
    recon, kl = total / len(dataset)
    return {"neg_elbo": float(recon + kl), "reconstruction": float(recon), "kl": float(kl)}


def plot_manifold(model, path, n: int = 20) -> None:
    """The decoder's means over a grid of 2-d latent codes z at the Gaussian quantiles
    (Kingma & Welling, figure 4)."""
    from statistics import NormalDist

    import nerve

    q = [NormalDist().inv_cdf(p) for p in numpy.linspace(0.05, 0.95, n)]
    z = numpy.array([[a, b] for b in q[::-1] for a in q], dtype=numpy.float32)
    device = next(iter(model.parameters())).device
    with nerve.no_grad():
        images = model.decode(nerve.tensor(z, device=device)).sigmoid().numpy()
    _images.save_grid(images, path, n, "the learned manifold: decoder means over z in 2-d",
                      scale=0.02)


def plot_latent(model, data: TaskData, device, path) -> None:
    """The test images' posterior means in the 2-d latent space, coloured by label."""
    import nerve

    from ..train.plots import _figure, _finish

    with nerve.no_grad():
        mu, _ = model.encode(nerve.tensor(data.test.images[:5000], device=device))
    mu, labels = mu.numpy(), data.extra["test_labels"][:5000]
    fig = _figure((5.5, 4.6))
    ax = fig.add_subplot()
    points = ax.scatter(mu[:, 0], mu[:, 1], c=labels, cmap="tab10", s=2)
    fig.colorbar(points, ax=ax, ticks=range(10))
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title("posterior means of test images")
    _finish(fig, path)
