"""The MLP VAE of ``nerve train vae`` trained by PyTorch with identical hyperparameters.

Same data (MNIST, the same 54,000 training images as nerve's default --val-split 0.1 with
seed 0, dynamic binarization; the test set binarized once with seed 0 by nerve's own
``binarize``), same model (784-400-20 encoder, 20-400-784 decoder, ReLU, Bernoulli logits),
same loss (-ELBO per image, one z sample), Adam lr 1e-3, batch 128. Prints the test -ELBO
after each epoch and the wall time, for docs/results/vae.md.

    OMP_NUM_THREADS=1 python bench/torch_vae.py --data-dir ../shared/data --epochs 50
"""
from __future__ import annotations

import argparse
import time

import numpy
import torch
from torch import nn
from torch.nn import functional as F

from nerve.data import random_split
from nerve.data.datasets import MNIST
from nerve.tasks.vae import binarize


class VAE(nn.Module):
    def __init__(self, hidden=400, latent=20):
        super().__init__()
        self.enc = nn.Linear(784, hidden)
        self.mu, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def forward(self, x):
        h = F.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.dec(z), mu, logvar


def negative_elbo(out, x):
    logits, mu, logvar = out
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum() / len(x)
    return recon + kl


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    train_set = MNIST(args.data_dir, train=True)
    part, _ = random_split(train_set, [54_000, 6_000], seed=args.seed)
    train = train_set.data[numpy.asarray(part.indices)].reshape(-1, 784).astype(numpy.float32)
    train /= 255
    test = MNIST(args.data_dir, train=False).data.reshape(-1, 784).astype(numpy.float32) / 255
    test = torch.from_numpy(binarize(test, numpy.random.default_rng(0)))
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = numpy.random.default_rng(args.seed)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(train))
        for i in range(0, len(order), 128):
            x = torch.from_numpy(binarize(train[order[i:i + 128]], rng))
            loss = negative_elbo(model(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            torch.manual_seed(args.seed)
            value = sum(negative_elbo(model(test[i:i + 1000]), test[i:i + 1000]).item() * 1000
                        for i in range(0, len(test), 1000)) / len(test)
        print(f"epoch {epoch}: test -ELBO {value:.2f} nats, {time.perf_counter() - start:.0f}s",
              flush=True)


if __name__ == "__main__":
    main()
