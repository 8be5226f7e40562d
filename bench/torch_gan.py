"""The GANs of ``nerve train dcgan`` and ``nerve train gan`` trained by PyTorch with identical
models, data and hyperparameters, scored by nerve's own classifier.

Shared with nerve, by calling nerve's own code:

- data: nerve's gan task loads MNIST (``GANTask.load``: the raw images scaled to [-1, 1] by
  ``ToTensor`` + ``Normalize((0.5,), (0.5,))``), all 60,000 training images (the GAN task holds
  none out for validation) or the first ``--limit N`` (as ``--limit-train N``); the batches
  come from nerve's own seeded ``DataLoader`` (batch 64, shuffled, ``drop_last=True`` as the
  task's), converted to torch tensors batch by batch;
- model: the same architecture with the same state_dict keys and shapes, the generator EMA
  included (``generator_ema``: a torch ``AveragedModel`` of the generator, ``use_buffers=True``
  so the batch-norm statistics are averaged too, its ``multi_avg_fn`` nerve's EMA with
  warm-up: the first update copies, the n-th (n >= 1) uses decay min(0.999, (1 + n) / (10 +
  n)), integer buffers are copied); eval mode samples from the EMA once it has been updated.
  The nerve model is built after ``nerve.manual_seed(seed)`` exactly as ``nerve train`` builds
  it (``--config KEY=VALUE`` as nerve's, e.g. ``--config width=64``) and its state, EMA
  copy included, is copied into the torch model, so both start identical;
- training: ``gan_step`` below is nerve.tasks.gan's ``gan_step`` line by line: D one Adam step
  on BCE(D(x), 1) + BCE(D(G(z).detach()), 0), then G one on BCE(D(G(z)), 1) (the
  non-saturating loss; D in train mode all three times), then the EMA update; two Adam
  optimizers, lr 2e-4, betas (0.5, 0.999); z ~ N(0, I); epochs from the model's
  train_defaults (dcgan 5, gan 15);
- score: nerve's own scorer on the torch samples: after each epoch 2,000 images from noise
  drawn as ``GANMonitor`` draws it (``numpy.random.default_rng(seed + 1)``), at the end
  10,000 from ``default_rng(seed)`` as the task's test (nerve's ``generate`` procedure, batches
  of 500, in eval mode, so from the EMA), given to ``nerve.tasks.gan.Classifier(path).probs``
  and ``inception_score``. ``--classifier`` is a LeNet checkpoint or a folder holding
  ``classifier.nrv``; by default nerve's run folder ``runs/MODEL-DATASET`` (``nerve train``'s
  ``--out``), so both frameworks are scored by the identical classifier. When the file is
  missing it is trained there by nerve's ``train_classifier``, as the task does (LeNet-5,
  ``classifier_epochs`` = 10 epochs on the same training images, seeded).

What differs: the noise z is drawn by torch's generator (seeded with ``--seed``), not nerve's,
and the MLP GAN's dropout masks too; and the two compute in float32 with different kernels, so
the runs agree at the start and then drift apart (adversarial training amplifies the
differences quickly). ``check_equivalence`` (tests/zoo/test_torch_gan_twin.py) shows that
with the same z both compute the same outputs, losses, gradients, Adam steps and EMA.

Each epoch prints the epoch's means of loss (loss_d + loss_g), loss_d, loss_g, d_real and
d_fake (as nerve's history.csv), the score of 2,000 samples and the seconds of training (then
of scoring); the end the score of 10,000 samples, the score of the real test images and the
classifier's test accuracy (as ``nerve train``'s last line), and the wall time. For the
nerve run ``nerve train dcgan --data-dir /work/shared/data`` (its classifier in
runs/dcgan-mnist):

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_gan.py --model dcgan \
        --data-dir /work/shared/data --classifier runs/dcgan-mnist
    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_gan.py --limit 256 --epochs 1 \
        --data-dir /work/shared/data --classifier runs/dcgan-mnist/classifier.nrv
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import SimpleNamespace

import numpy
import torch
from _twin import load_from_nerve, max_diff, nerve_run, to_numpy, to_torch, wall_line
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel

import nerve
from nerve.cli_train import _config_items
from nerve.models import get_model, model_spec
from nerve.tasks import gan as nerve_gan
from nerve.tasks.gan import (
    CLASSIFIER_EPOCHS,
    SCORE_SAMPLES,
    Classifier,
    inception_score,
    noise_batches,
    train_classifier,
)

MODELS = ("dcgan", "gan")
EPOCH_SAMPLES = 2000  # GANMonitor's


# ---- the models (nerve/models/gan.py) --------------------------------------------------------
def ema_with_warmup(decay: float = 0.999):
    """nerve's ``get_ema_multi_avg_fn(decay, warmup=True)`` as a torch ``multi_avg_fn``: at
    the n-th update (n >= 1) avg <- d avg + (1 - d) new with d = min(decay, (1 + n) / (10 +
    n)), computed as nerve does (``avg *= d; avg += (1 - d) * new``); integer buffers
    (``num_batches_tracked``) are copied, as nerve's AveragedModel does (torch's own
    ``get_ema_multi_avg_fn`` averages them and truncates)."""

    @torch.no_grad()
    def update(averaged, current, num_averaged):
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        n = int(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        torch._foreach_mul_(averaged, d)
        torch._foreach_add_(averaged, current, alpha=1.0 - d)

    return update


class _GAN(nn.Module):
    latent_dim: int

    def _average_generator(self, ema: float) -> None:
        self.generator_ema = None
        if ema:
            self.generator_ema = AveragedModel(self.generator, multi_avg_fn=ema_with_warmup(ema),
                                               use_buffers=True)
            self.generator_ema.module.requires_grad_(False)  # as nerve's AveragedModel

    def update_average(self) -> None:
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

    def forward(self, z):
        ema = self.generator_ema
        if not self.training and ema is not None and int(ema.n_averaged) > 0:
            return ema(z)
        return self.generator(z)

    def noise(self, n: int):
        p = next(iter(self.parameters()))
        return torch.randn(n, self.latent_dim, dtype=p.dtype, device=p.device)


class GAN(_GAN):
    def __init__(self, in_channels=1, latent_dim=64, hidden=(256, 512), dropout=0.3,
                 ema=0.999):
        super().__init__()
        self.latent_dim = latent_dim
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


class DCGAN(_GAN):
    def __init__(self, in_channels=1, latent_dim=100, width=32, ema=0.999):
        super().__init__()
        self.latent_dim = latent_dim
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
        self._average_generator(ema)


TWINS = {"dcgan": DCGAN, "gan": GAN}


def twin_of(name: str, nerve_model) -> _GAN:
    """The torch model of ``name`` with ``nerve_model``'s config, dtype and whole state (the
    generator EMA and its ``n_averaged`` included)."""
    model = TWINS[name](**nerve_model.config)
    if next(iter(nerve_model.parameters())).dtype == numpy.float64:
        model = model.double()
    return load_from_nerve(model, nerve_model)


def adam_pair(model: _GAN, lr: float = 2e-4) -> dict:
    """The task's two optimizers: Adam with betas (0.5, 0.999) for each network."""
    return {"generator": torch.optim.Adam(model.generator.parameters(), lr=lr,
                                          betas=(0.5, 0.999)),
            "discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=lr,
                                              betas=(0.5, 0.999))}


def gan_step(model: _GAN, opt, x: torch.Tensor, z: torch.Tensor | None = None) -> dict:
    """nerve.tasks.gan's ``gan_step``: one discriminator step, then one generator step with
    the non-saturating loss, then the EMA update (``z``: the noise, default ``model.noise``)."""
    n = x.shape[0]
    ones = torch.ones(n, 1, dtype=x.dtype)
    zeros = torch.zeros(n, 1, dtype=x.dtype)
    fake = model(model.noise(n) if z is None else z)
    d_real, d_fake = model.discriminator(x), model.discriminator(fake.detach())
    loss_d = (F.binary_cross_entropy_with_logits(d_real, ones)
              + F.binary_cross_entropy_with_logits(d_fake, zeros))
    opt["discriminator"].zero_grad()
    loss_d.backward()
    opt["discriminator"].step()
    loss_g = F.binary_cross_entropy_with_logits(model.discriminator(fake), ones)
    opt["generator"].zero_grad()
    loss_g.backward()
    opt["generator"].step()
    model.update_average()
    ld, lg = loss_d.item(), loss_g.item()
    return {"loss": ld + lg, "loss_d": ld, "loss_g": lg,
            "d_real": float(d_real.detach().sigmoid().mean()),
            "d_fake": float(d_fake.detach().sigmoid().mean()), "size": n}


def generate(model: _GAN, n: int, seed: int = 0, batch_size: int = 500) -> numpy.ndarray:
    """nerve.tasks.gan's ``generate`` for the torch model: ``n`` images in [-1, 1] in eval
    mode (from the EMA), the noise drawn by ``numpy.random.default_rng(seed)``, float32."""
    was_training = model.training
    model.eval()
    dtype = next(iter(model.parameters())).dtype
    out = []
    try:
        with torch.no_grad():
            for z in noise_batches(n, model.latent_dim, seed, batch_size):
                out.append(model(torch.from_numpy(z).to(dtype)).numpy())
    finally:
        model.train(was_training)
    return numpy.concatenate(out)


# ---- equivalence check -----------------------------------------------------------------------
class _Recording:
    """An optimizer that keeps the gradients it is about to apply (for the comparison)."""

    def __init__(self, opt, params, store: list):
        self.opt, self.params, self.store = opt, list(params), store

    def zero_grad(self):
        self.opt.zero_grad()

    def step(self):
        self.store.append([to_numpy(p.grad).copy() for p in self.params])
        self.opt.step()


def _grads_diff(a: list, b: list) -> float:
    return max(max_diff(x, y) for ga, gb in zip(a, b) for x, y in zip(ga, gb))


def check_equivalence(name: str = "dcgan", seed: int = 0, batch: int = 4, steps: int = 3,
                      dtype: str = "float64", **config) -> dict:
    """Build nerve's ``name`` as ``nerve train`` does (``nerve.manual_seed(seed)``, then the
    model with ``config``; the MLP GAN's ``dropout`` must be 0, its masks differ), copy it into
    the twin and compare on random images in [-1, 1] and random noise: G(z) and D(x) in eval
    mode and in train mode; then ``steps`` steps of nerve's own ``gan_step`` against the twin's
    with the same z: the first step's losses, D's probabilities and the gradients of both
    Adam steps (D's from loss_d, G's from loss_g); after all steps the whole state (weights,
    batch-norm statistics, the EMA and its n_averaged), the EMA part alone, and the samples
    in eval mode (now from the EMA). Returns the largest absolute differences (``grad_scale``:
    the largest gradient, for scale)."""
    nerve.manual_seed(seed)
    n_model = get_model(name, **config)
    if dtype == "float64":
        n_model = n_model.double()
    model = twin_of(name, n_model)
    rng = numpy.random.default_rng(seed)
    channels = n_model.config["in_channels"]
    xs = rng.uniform(-1, 1, (steps + 1, batch, channels, 28, 28)).astype(dtype)
    zs = rng.standard_normal((steps + 1, batch, n_model.latent_dim)).astype(dtype)
    out = {}
    for mode in ("eval", "train"):
        n_model.train(mode == "train")
        model.train(mode == "train")
        with nerve.no_grad(), torch.no_grad():
            out[f"{mode}_generator"] = max_diff(n_model(nerve.tensor(zs[0])),
                                                model(to_torch(zs[0])))
            out[f"{mode}_discriminator"] = max_diff(n_model.discriminator(nerve.tensor(xs[0])),
                                                    model.discriminator(to_torch(xs[0])))
    n_model.train()
    model.train()
    n_grads, t_grads = [], []
    n_opt = {k: _Recording(nerve.optim.Adam(getattr(n_model, k).parameters(), lr=2e-4,
                                            betas=(0.5, 0.999)),
                           getattr(n_model, k).parameters(), n_grads)
             for k in ("discriminator", "generator")}
    t_opt = {k: _Recording(o, getattr(model, k).parameters(), t_grads)
             for k, o in adam_pair(model).items()}
    for i in range(1, steps + 1):
        n_model.noise = lambda n, z=zs[i]: nerve.tensor(z)  # nerve's step draws this z
        n_logs = nerve_gan.gan_step(SimpleNamespace(model=n_model, optimizer=n_opt),
                                    (nerve.tensor(xs[i]),))
        t_logs = gan_step(model, t_opt, to_torch(xs[i]), to_torch(zs[i]))
        if i == 1:
            for key in ("loss_d", "loss_g", "d_real", "d_fake"):
                out[key] = abs(n_logs[key] - t_logs[key])
            out["grads"] = _grads_diff(n_grads, t_grads)
            out["grad_scale"] = max(float(numpy.abs(g).max()) for gs in t_grads for g in gs)
    del n_model.noise
    nsd, tsd = n_model.state_dict(), model.state_dict()
    assert list(nsd) == list(tsd), "state_dict keys differ"
    diffs = {k: max_diff(v.numpy(), tsd[k]) for k, v in nsd.items()}
    out["state_after_steps"] = max(diffs.values())
    if n_model.generator_ema is not None:
        out["ema_after_steps"] = max(v for k, v in diffs.items()
                                     if k.startswith("generator_ema."))
        out["ema_moved"] = max_diff(nsd["generator_ema.module.0.weight"].numpy(),
                                    nsd["generator.0.weight"].numpy())  # > 0: an average
    n_model.eval()
    model.eval()
    with nerve.no_grad(), torch.no_grad():
        out["eval_ema_samples"] = max_diff(n_model(nerve.tensor(zs[0])), model(to_torch(zs[0])))
    return out


# ---- training --------------------------------------------------------------------------------
def settings_of(name: str, epochs: int | None = None) -> dict:
    """``nerve train``'s settings for ``name`` (nerve/cli_train.py's ``_settings``)."""
    s = {"dataset": "mnist", "optimizer": "sgd", "lr": 0.01, "momentum": 0.0,
         "weight_decay": 0.0, "batch_size": 64, "epochs": 10, "schedule": "none",
         **model_spec(name).train_defaults}
    if epochs is not None:
        s["epochs"] = epochs
    if (s.pop("task"), s["optimizer"], s["schedule"]) != ("gan", "adam", "none"):
        raise ValueError(f"{name}: this twin implements the gan task with adam and no "
                         f"schedule, the model's defaults are {s}")
    return s


def classifier_path(given: str | None, name: str, dataset: str) -> Path:
    """``given`` (a .nrv file, or a folder holding classifier.nrv), by default nerve train's
    run folder runs/MODEL-DATASET."""
    path = Path(given or f"runs/{name}-{dataset}")
    return path if path.suffix == ".nrv" else path / "classifier.nrv"


def score(classifier: Classifier, images) -> float:
    return inception_score(classifier.probs(images))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=MODELS, default="dcgan")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: the model's train_defaults (dcgan 5, gan 15)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="train on the first N training images only (nerve train --limit-train)")
    p.add_argument("--config", action="append", metavar="KEY=VALUE",
                   help="a model config entry, as nerve train's (e.g. width=64)")
    p.add_argument("--classifier", default=None, metavar="PATH",
                   help="LeNet checkpoint for the score, or a nerve run folder holding "
                        "classifier.nrv (default runs/MODEL-DATASET); trained there if missing")
    args = p.parse_args(argv)
    start = time.perf_counter()
    s = settings_of(args.model, args.epochs)
    # what nerve/cli_train.py's run_train and GANTask.train do, in their order
    spec, task, run, data = nerve_run(args.model, s, args.seed, args.data_dir, 0.0,
                                      args.limit)
    config = {k: v for k, v in data.config.items() if k in spec.default_config}
    config.update(_config_items(args.config))
    n_model = get_model(args.model, **config)
    model = twin_of(args.model, n_model)
    z = numpy.random.default_rng(args.seed).standard_normal((8, n_model.latent_dim))
    with nerve.no_grad(), torch.no_grad():
        n_model.eval()
        model.eval()
        diff = max_diff(n_model(nerve.tensor(z.astype(numpy.float32))),
                        model(torch.from_numpy(z.astype(numpy.float32))))
    config = n_model.config
    del n_model
    path = classifier_path(args.classifier, args.model, data.name)
    if not path.is_file():
        print(f"training the LeNet classifier for the score ({path})", flush=True)
        train_classifier(data, path, s.get("classifier_epochs", CLASSIFIER_EPOCHS), args.seed)
    classifier = Classifier(path)
    loader = run.loader(data.train, shuffle=True, drop_last=True)
    model.train()
    opt = adam_pair(model, s["lr"])
    torch.manual_seed(args.seed)  # the noise (and the MLP GAN's dropout masks)
    params = sum(p.numel() for k in ("generator", "discriminator")
                 for p in getattr(model, k).parameters())
    print(f"torch twin of nerve train {args.model} {config} ({params:,} parameters); nerve's "
          f"initial weights (seed {args.seed}), max |sample difference| {diff:.1e}", flush=True)
    print(f"{len(data.train):,} training images, {len(loader)} batches of {s['batch_size']} "
          f"per epoch (drop_last); {s['epochs']} epochs, two adam lr {s['lr']} betas (0.5, "
          f"0.999); score: {path}", flush=True)
    for epoch in range(1, s["epochs"] + 1):
        model.train()
        t = time.perf_counter()
        sums, seen = {}, 0
        for batch in loader:
            logs = gan_step(model, opt, to_torch(batch[0]))
            n = logs.pop("size")
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + value * n
            seen += n
        seconds = time.perf_counter() - t
        t = time.perf_counter()
        epoch_score = score(classifier, generate(model, EPOCH_SAMPLES, args.seed + 1))
        print(f"epoch {epoch}: " + " ".join(f"{k} {v / seen:.4f}" for k, v in sums.items())
              + f", inception_score {epoch_score:.3f} ({EPOCH_SAMPLES:,} samples)  "
              f"{seconds:.1f}s (scoring {time.perf_counter() - t:.1f}s)", flush=True)
    final = score(classifier, generate(model, SCORE_SAMPLES, args.seed))
    real, labels = data.test.get_batch(numpy.arange(len(data.test)))
    probs = classifier.probs(real)
    accuracy = float((probs.argmax(1) == numpy.asarray(labels)).mean())
    print(f"torch {args.model}: inception score {final:.2f} of 10 ({SCORE_SAMPLES:,} samples; "
          f"real test images {inception_score(probs):.2f}, LeNet accuracy "
          f"{100 * accuracy:.2f}%) after {s['epochs']} epochs")
    print(wall_line(start, time.perf_counter()))


if __name__ == "__main__":
    main()
