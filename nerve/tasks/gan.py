"""GANs (gan, dcgan): alternating discriminator/generator updates, sample grids over training,
and an Inception-style score computed with a LeNet classifier.

Images are scaled to [-1, 1] (the generators end in tanh). Each step (Goodfellow et al.
2014, algorithm 1 with k = 1 and the non-saturating generator loss): D takes one Adam step on
BCE(D(x), 1) + BCE(D(G(z)), 0), then G one on BCE(D(G(z)), 1); two Adam optimizers with
betas (0.5, 0.999) (Radford et al. 2016), held in one ``OptimizerGroup`` so that checkpoints
and ``--resume`` keep both. The logged ``loss`` is loss_d + loss_g (2 log 2 + log 2 when D
cannot tell at all), ``d_real``/``d_fake`` are D's mean probabilities of "real".

The score (Salimans et al. 2016, "Improved Techniques for Training GANs") is
exp(E_x KL(p(y|x) || p(y))) with a classifier trained on the same data: 1 when every image
gets the same class distribution, the number of classes (10) when each image is classified
with certainty and the classes are equally frequent. The classifier is a LeNet-5 trained in
the run with ``nerve train lenet``'s recipe (``classifier_epochs``, by default its 10 epochs:
the score needs a confident classifier; one trained for 2 epochs rates the same samples about
one point lower) and cached as ``classifier.nrv`` in the run folder;
``nerve evaluate`` uses the one beside the checkpoint. Put any ``nerve train lenet``
checkpoint there (before training) to use it instead. The score of real test images is
reported as the ceiling.
"""
from __future__ import annotations

from pathlib import Path

import numpy

from ..train.callbacks import Callback
from . import _images
from .base import ImageTask, Run, TaskData, register_task

SCORE_SAMPLES = 10_000  # images scored at the end (2,000 after each epoch)
CLASSIFIER_EPOCHS = 10  # nerve train lenet's default


def inception_score(probs) -> float:
    """exp(mean_x KL(p(y|x) || p(y))) for class probabilities ``probs`` (N, K), with p(y)
    the mean of the rows. Between 1 and K.

    >>> round(inception_score(numpy.eye(10)), 6), inception_score(numpy.full((5, 10), 0.1))
    (10.0, 1.0)
    """
    p = numpy.asarray(probs, dtype=numpy.float64)
    marginal = p.mean(axis=0, keepdims=True)
    with numpy.errstate(divide="ignore", invalid="ignore"):
        terms = numpy.where(p > 0, p * (numpy.log(p) - numpy.log(marginal)), 0.0)
    return float(numpy.exp(terms.sum(axis=1).mean()))


@register_task
class GANTask(ImageTask):
    name = "gan"
    metrics = ()
    monitor = "inception_score"  # maximized (see _maximize)
    validates = False  # the score is computed on samples: every training image trains

    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        from ..data import ArrayDataset
        from ..data.transforms import Compose, Normalize, ToTensor

        data, notes = _images.load_raw(run, meta)
        to_unit = Compose([ToTensor(), Normalize((0.5,), (0.5,))])  # [-1, 1]
        train = ArrayDataset(data.train.data, data.train.targets, transform=to_unit)
        test = ArrayDataset(data.test.data, data.test.targets, transform=to_unit)
        return TaskData(data.name, train, None, test, data.source,
                        meta={"input_shape": [1, 28, 28], "classes": data.classes,
                              "pixel_range": [-1, 1]},
                        config={"in_channels": 1}, notes=notes, extra={"images": data})

    # ---- training ---------------------------------------------------------------------------
    def train(self, run: Run, model, data: TaskData, callbacks, meta: dict):
        from .. import optim
        from ..train import fit

        s = run.settings
        classifier = self.classifier(run, data)
        opt = optim.OptimizerGroup(
            generator=optim.Adam(model.generator.parameters(), lr=s["lr"], betas=(0.5, 0.999)),
            discriminator=optim.Adam(model.discriminator.parameters(), lr=s["lr"],
                                     betas=(0.5, 0.999)))
        _maximize(callbacks, self.monitor)
        watch = GANMonitor(classifier, run.out, seed=run.seed, device=run.device)
        return fit(model, run.loader(data.train, shuffle=True, drop_last=True), None, opt,
                   s["epochs"], metrics=(), callbacks=[watch, *callbacks], device=run.device,
                   progress=not run.quiet, resume=getattr(run.args, "resume", None), meta=meta,
                   train_step=gan_step)

    # ---- results ----------------------------------------------------------------------------
    def test(self, run: Run, model, data: TaskData) -> dict:
        classifier = self.classifier(run, data)
        fake = generate(model, SCORE_SAMPLES, run.seed)
        real, labels = data.test.get_batch(numpy.arange(len(data.test)))
        probs = classifier.probs(real)
        accuracy = float((probs.argmax(1) == numpy.asarray(labels)).mean())
        return {"inception_score": inception_score(classifier.probs(fake)),
                "real_test_inception_score": inception_score(probs),
                "classifier_test_accuracy": accuracy, "samples": len(fake)}

    def summary(self, results: dict) -> str:
        return (f"inception score {results['inception_score']:.2f} of 10 ({results['samples']:,}"
                f" samples; real test images {results['real_test_inception_score']:.2f}, "
                f"LeNet accuracy {100 * results['classifier_test_accuracy']:.2f}%)")

    def plots(self, run: Run, model, data: TaskData, history, results: dict) -> list[str]:
        written = super().plots(run, model, data, history, results)
        images = generate(model, 64, run.seed)
        _images.save_grid((images + 1) / 2, run.out / "samples.png", 8,
                          f"{getattr(model, 'model_name', 'gan')} samples after "
                          f"{len(history)} epochs")
        return written + ["samples.png"]

    def sample(self, model, meta: dict, args) -> int:
        return _images.write_samples((generate(model, args.n or 64, args.seed) + 1) / 2, meta,
                                     args)

    # ---- the classifier behind the score ----------------------------------------------------
    def classifier(self, run: Run, data: TaskData) -> "Classifier":
        """The LeNet of the run folder (or beside the evaluated checkpoint), trained and
        saved there first when missing."""
        checkpoint = getattr(run.args, "checkpoint", None)
        folder = Path(checkpoint).parent if checkpoint else run.out
        path = folder / "classifier.nrv"
        if not path.is_file():
            run.say(f"training the LeNet classifier for the score ({path})")
            epochs = run.settings.get("classifier_epochs", CLASSIFIER_EPOCHS)
            train_classifier(data, path, epochs, run.seed, run.device, quiet=run.quiet)
        return Classifier(path, run.device)


def gan_step(trainer, batch) -> dict:
    """One discriminator step, then one generator step (non-saturating loss)."""
    import nerve
    from nerve.nn import functional as F

    model, opt = trainer.model, trainer.optimizer
    x = batch[0]
    n = x.shape[0]
    ones, zeros = nerve.ones(n, 1, device=x.device), nerve.zeros(n, 1, device=x.device)
    fake = model(model.noise(n))
    d_real, d_fake = model.discriminator(x), model.discriminator(fake.detach())
    loss_d = (F.binary_cross_entropy_with_logits(d_real, ones)
              + F.binary_cross_entropy_with_logits(d_fake, zeros))
    opt["discriminator"].zero_grad()
    loss_d.backward()
    opt["discriminator"].step()
    loss_g = F.binary_cross_entropy_with_logits(model.discriminator(fake), ones)
    opt["generator"].zero_grad()
    loss_g.backward()  # also leaves gradients in D, cleared before D's next step
    opt["generator"].step()
    model.update_average()
    ld, lg = loss_d.item(), loss_g.item()
    return {"loss": ld + lg, "loss_d": ld, "loss_g": lg,
            "d_real": float(d_real.sigmoid().mean().item()),
            "d_fake": float(d_fake.sigmoid().mean().item()), "size": n}


def noise_batches(n: int, latent_dim: int, seed: int = 0, batch_size: int = 500):
    """The noise of ``generate``: ``n`` draws of z ~ N(0, I) from ``default_rng(seed)``, as
    float32 arrays of at most ``batch_size`` rows (the PyTorch twin draws the same)."""
    rng = numpy.random.default_rng(seed)
    for start in range(0, n, batch_size):
        yield rng.standard_normal((min(batch_size, n - start), latent_dim)).astype(numpy.float32)


def generate(model, n: int, seed: int = 0, batch_size: int = 500) -> numpy.ndarray:
    """``n`` images in [-1, 1] from the generator in eval mode, noise drawn with ``seed``."""
    import nerve

    was_training = model.training
    model.eval()
    device = next(iter(model.parameters())).device
    out = []
    try:
        with nerve.no_grad():
            for z in noise_batches(n, model.latent_dim, seed, batch_size):
                out.append(model(nerve.tensor(z, device=device)).numpy())
    finally:
        model.train(was_training)
    return numpy.concatenate(out)


class Classifier:
    """A trained image classifier checkpoint as ``probs(images in [-1, 1]) -> (N, K)``."""

    def __init__(self, path, device=None):
        from ..models import from_checkpoint

        self.model, state = from_checkpoint(path)
        self.model = self.model.to(device) if device is not None else self.model
        meta = state.get("meta") or {}
        self.mean = numpy.asarray(meta.get("mean", [0.0]), numpy.float32).reshape(1, -1, 1, 1)
        self.std = numpy.asarray(meta.get("std", [1.0]), numpy.float32).reshape(1, -1, 1, 1)

    def probs(self, images) -> numpy.ndarray:
        from ..train import predict
        from .classify import softmax

        x = ((numpy.asarray(images, numpy.float32) + 1) / 2 - self.mean) / self.std
        return softmax(predict(self.model, x, batch_size=1000).numpy())


def train_classifier(data: TaskData, path, epochs: int, seed: int = 0, device=None,
                     quiet: bool = False) -> None:
    """Train LeNet-5 on ``data.train`` (normalized as ``nerve train lenet`` does) and save a
    checkpoint ``nerve evaluate`` understands."""
    import nerve

    from .. import nn, optim
    from ..data import DataLoader, TensorDataset
    from ..models import get_model
    from ..train import fit
    from ..train.checkpoint import save_checkpoint

    images = data.extra["images"]
    x, y = data.train.get_batch(numpy.arange(len(data.train)))  # x in [-1, 1]
    mean = numpy.asarray(images.mean, numpy.float32).reshape(1, -1, 1, 1)
    std = numpy.asarray(images.std, numpy.float32).reshape(1, -1, 1, 1)
    train = TensorDataset(((x + 1) / 2 - mean) / std, y)
    nerve.manual_seed(seed)
    model = get_model("lenet", num_classes=len(images.classes))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(train, batch_size=128, shuffle=True, seed=seed)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * len(loader)))
    fit(model, loader, nn.CrossEntropyLoss(), opt, epochs, scheduler=sched,
        scheduler_interval="step", device=device, progress=not quiet)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, opt, epoch=epochs, meta={
        "model": "lenet", "config": model.config, "dataset": images.name,
        "classes": images.classes, "mean": list(images.mean), "std": list(images.std),
        "input_shape": [1, 28, 28], "purpose": "classifier for the GAN inception score"})


class GANMonitor(Callback):
    """After every epoch: a grid of samples from a fixed noise batch (samples_epochNN.png)
    and the score of 2,000 samples, logged as ``inception_score`` (runs before the loggers
    and checkpoints, which see it)."""

    order = -10

    def __init__(self, classifier: Classifier, out, seed: int = 0, device=None,
                 samples: int = 2000):
        self.classifier, self.out, self.seed, self.samples = classifier, Path(out), seed, samples

    def on_epoch_end(self, epoch, logs=None):
        model, history = self.trainer.model, self.trainer.history
        logs["inception_score"] = inception_score(
            self.classifier.probs(generate(model, self.samples, self.seed + 1)))
        # the epoch's row is in the history already (fit appends it before the callbacks run,
        # padding the column with None): fill in this epoch's value
        scores = history.history.setdefault("inception_score", [None] * len(history))
        scores[-1] = logs["inception_score"]
        try:
            _images.save_grid((generate(model, 64, self.seed) + 1) / 2,
                              self.out / f"samples_epoch{epoch + 1:02d}.png", 8,
                              f"epoch {epoch + 1}: score {logs['inception_score']:.2f}")
        except ImportError:  # no matplotlib: the score is still logged
            pass


def _maximize(callbacks, key: str) -> None:
    """Make the command line's checkpoint and JSON logger keep the *highest* ``key`` (their
    ``auto`` mode would minimize a score)."""
    from ..train.callbacks import JSONLogger, ModelCheckpoint, Monitor

    for cb in callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.monitor == key:
            cb.tracker = Monitor("ModelCheckpoint", key, "max")
        elif isinstance(cb, JSONLogger) and cb.monitor == key:
            cb.mode = "max"
