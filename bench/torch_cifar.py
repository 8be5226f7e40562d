"""The CIFAR-10 CNNs of ``nerve train vgg_small|resnet20|plain20|densenet_small`` trained by
PyTorch with identical models, data and hyperparameters.

Shared with nerve, by calling nerve's own code:

- data: nerve's classify task loads CIFAR-10 (``load_image_data``; the shared folder holds the
  first 4,000 training images, lossless, and the 10,000 test images as JPEG q75), holds out
  the same ``--val-split`` (default 0.1) of the training images with the same ``--seed``
  (``random_split``), and ``--limit-train N`` keeps the first N of the training part, as
  ``nerve train`` does; the training batches come from nerve's own ``DataLoader`` (seeded as
  ``nerve train``'s: the same order and the same augmentation, random 32x32 crops of the
  4-pixel zero-padded image and horizontal flips, normalized by the CIFAR-10 mean and std),
  converted to torch tensors;
- model: the same architecture with the same state_dict keys and shapes; the nerve model is
  built after ``nerve.manual_seed(seed)`` exactly as ``nerve train`` builds it and all its
  parameters and buffers are copied into the torch model, so both start identical
  (``check_equivalence`` runs first and checks that both compute the same outputs, batch-norm
  statistics and gradients);
- training: cross-entropy, SGD with momentum and L2 weight decay on every parameter
  (``torch.optim.SGD``, which nerve's SGD mirrors; no exclusions), lr, batch size and epochs
  from the model's ``train_defaults``, cosine decay to 0 stepped after every batch over the
  whole run, as nerve's ``cosine`` schedule;
- test: accuracy of the final model on the 10,000 test images (nerve's ``test accuracy``).

What differs: dropout (vgg_small) draws its masks from torch's generator (seeded with
``--seed``), not nerve's; and the two compute in float32 with different kernels, so the runs
agree in the first steps (same batches, same losses) and then drift apart by rounding.

Each epoch prints the training loss and accuracy (augmented images), the validation
accuracy, the test accuracy and the epoch's training seconds (like ``time`` in nerve's
history.csv; then the seconds of testing); the last line the test accuracy and the wall time.
For docs/results.md, as the nerve runs there (``nerve train MODEL --data-dir
/work/shared/data --val-split 0``), with MODEL one of vgg_small, resnet20, plain20 (15
epochs) or densenet_small (10 epochs):

    OMP_NUM_THREADS=1 python bench/torch_cifar.py --model MODEL --data-dir /work/shared/data \
        --val-split 0
"""
from __future__ import annotations

import argparse
import time

import numpy
import torch
from _twin import classify_epoch, nerve_run, report_equivalence
from torch import nn
from torch.nn import functional as F

import nerve
from nerve.models import get_model, model_spec
from nerve.tasks import Run
from nerve.train.recipes import make_optimizer, make_scheduler

MODELS = ("vgg_small", "resnet20", "plain20", "densenet_small")


# ---- the models (nerve/models/_cnn.py, vgg_small.py, resnet20.py, densenet_small.py) ---------
def conv_bn(in_channels, out_channels, kernel_size=3, stride=1, relu=True):
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                        padding=kernel_size // 2, bias=False), nn.BatchNorm2d(out_channels)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VGGSmall(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, widths=(32, 64, 128), convs=(2, 2, 2),
                 hidden=256, dropout=0.25, image_size=32):
        super().__init__()
        layers, c = [], in_channels
        for w, n in zip(widths, convs):
            for _ in range(n):
                layers.append(conv_bn(c, w))
                c = w
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = image_size // 2 ** len(widths)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * side * side, hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """relu(F(x) + shortcut(x)); option A: subsample, pad the new channels with zeros."""

    def __init__(self, in_channels, out_channels, stride=1, residual=True, shortcut="A"):
        super().__init__()
        self.body = nn.Sequential(conv_bn(in_channels, out_channels, 3, stride),
                                  conv_bn(out_channels, out_channels, 3, relu=False))
        self.residual, self.stride, self.pad, self.projection = residual, stride, 0, None
        if residual and (stride != 1 or in_channels != out_channels):
            if shortcut == "B":
                self.projection = conv_bn(in_channels, out_channels, 1, stride, relu=False)
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
    def __init__(self, in_channels=3, num_classes=10, blocks=3, widths=(16, 32, 64),
                 shortcut="A", residual=True):
        super().__init__()
        self.stem = conv_bn(in_channels, widths[0], 3)
        per_stage = (blocks,) * len(widths) if isinstance(blocks, int) else tuple(blocks)
        layers, width = [], widths[0]
        for stage, (w, n) in enumerate(zip(widths, per_stage)):
            for b in range(n):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(BasicBlock(width, w, stride, residual, shortcut))
                width = w
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(x.reshape(x.shape[0], -1))


def plain20(**config):
    return CifarResNet(**config, residual=False)


def bn_relu_conv(in_channels, out_channels, kernel_size):
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size,
                                   padding=kernel_size // 2, bias=False))


class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bottleneck=4):
        super().__init__()
        self.body = nn.Sequential(bn_relu_conv(in_channels, bottleneck * growth_rate, 1),
                                  bn_relu_conv(bottleneck * growth_rate, growth_rate, 3))

    def forward(self, x):
        return torch.cat([x, self.body(x)], dim=1)


class Transition(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.body = bn_relu_conv(in_channels, out_channels, 1)

    def forward(self, x):
        return F.avg_pool2d(self.body(x), 2)


class DenseNetSmall(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, growth_rate=12, layers=(4, 4, 4),
                 compression=0.5):
        super().__init__()
        c = 2 * growth_rate
        modules = [nn.Conv2d(in_channels, c, 3, padding=1, bias=False)]
        for i, n in enumerate(layers):
            for _ in range(n):
                modules.append(DenseLayer(c, growth_rate))
                c += growth_rate
            if i < len(layers) - 1:
                out = int(c * compression)
                modules.append(Transition(c, out))
                c = out
        modules += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*modules)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


TWINS = {"vgg_small": VGGSmall, "resnet20": CifarResNet, "plain20": plain20,
         "densenet_small": DenseNetSmall}


def copy_from_nerve(model: nn.Module, nerve_model) -> nn.Module:
    """Copy every parameter and buffer of ``nerve_model`` into ``model``; the two state_dicts
    must have the same keys and shapes."""
    source = {k: torch.from_numpy(numpy.array(v.numpy(), copy=True))
              for k, v in nerve_model.state_dict().items()}
    target = model.state_dict()
    if list(source) != list(target):
        only_n, only_t = sorted(set(source) - set(target)), sorted(set(target) - set(source))
        raise ValueError(f"state_dict keys differ: only in nerve {only_n}, only in torch "
                         f"{only_t} (or the same keys in another order)")
    for k, v in source.items():
        if v.shape != target[k].shape or v.dtype != target[k].dtype:
            raise ValueError(f"{k}: nerve {tuple(v.shape)} {v.dtype}, torch "
                             f"{tuple(target[k].shape)} {target[k].dtype}")
    model.load_state_dict(source, strict=True)
    return model


def twin_of(name: str, nerve_model) -> nn.Module:
    """The torch model of ``name`` with ``nerve_model``'s config, dtype and weights."""
    model = TWINS[name](**nerve_model.config)
    if next(iter(nerve_model.parameters())).dtype == numpy.float64:
        model = model.double()
    return copy_from_nerve(model, nerve_model)


# ---- equivalence checks ----------------------------------------------------------------------
def _max_diff(a, b) -> float:
    return float(numpy.max(numpy.abs(numpy.asarray(a, numpy.float64)
                                     - numpy.asarray(b, numpy.float64))))


def _train_without_dropout(model, dropout_type):
    """Training mode (batch statistics) with the dropout layers off, whose masks come from
    different generators in the two frameworks."""
    model.train()
    for m in model.modules():
        if isinstance(m, dropout_type):
            m.eval()


def _seeded_pair(name: str, seed: int, dtype: str):
    nerve.manual_seed(seed)
    nm = get_model(name)
    if dtype == "float64":
        nm = nm.double()
    return nm, twin_of(name, nm)


def check_equivalence(name: str, batch: int = 4, seed: int = 0, dtype: str = "float32") -> dict:
    """Build ``name`` in nerve (seeded), copy it into the torch twin and run both on the same
    random batch: eval mode; train mode (dropout off) with cross-entropy backward. Returns the
    max abs differences: ``eval`` and ``train`` outputs, ``buffers`` (BatchNorm running
    statistics after the train-mode pass) and ``grad`` (over all parameter gradients), and
    ``grad_scale`` (the largest gradient, for scale).

    In float32 a pre-activation within rounding error of 0 can fall on different sides of a
    ReLU in the two frameworks, which changes a few gradients by up to ~1e-2 of their scale
    (seen with plain20, seed 0); in float64 (``dtype``) that does not happen and everything
    agrees to ~1e-12."""
    nm, tm = _seeded_pair(name, seed, dtype)
    rng = numpy.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(dtype)
    y = rng.integers(0, 10, batch)
    nm.eval()
    tm.eval()
    with nerve.no_grad(), torch.no_grad():
        d_eval = _max_diff(nm(nerve.Tensor(x)).numpy(), tm(torch.from_numpy(x)).numpy())
    _train_without_dropout(nm, nerve.nn.Dropout)
    _train_without_dropout(tm, nn.Dropout)
    out_n = nm(nerve.Tensor(x))
    nerve.nn.functional.cross_entropy(out_n, nerve.Tensor(y)).backward()
    out_t = tm(torch.from_numpy(x))
    F.cross_entropy(out_t, torch.from_numpy(y)).backward()
    d_train = _max_diff(out_n.detach().numpy(), out_t.detach().numpy())
    tsd, tparams = tm.state_dict(), dict(tm.named_parameters())
    d_buf = max(_max_diff(v.numpy(), tsd[k].numpy()) for k, v in nm.state_dict().items()
                if "running" in k)
    grads = [(p.grad.numpy(), tparams[k].grad.numpy()) for k, p in nm.named_parameters()]
    return {"eval": d_eval, "train": d_train, "buffers": d_buf,
            "grad": max(_max_diff(a, b) for a, b in grads),
            "grad_scale": max(float(numpy.abs(b).max()) for _, b in grads)}


def check_sgd_steps(name: str, steps: int = 3, batch: int = 4, seed: int = 0,
                    dtype: str = "float64") -> dict:
    """``steps`` training steps on the same batch in both frameworks: nerve's optimizer and
    schedule from ``nerve.train.recipes`` with the model's train_defaults, the twin's from
    ``torch_optimizer`` (dropout off). Returns the max abs differences of the parameters and
    buffers afterwards (``state``) and of the learning rates (``lr``). In float64 by default:
    in float32 the ReLU-kink differences of ``check_equivalence`` grow over the steps."""
    settings = settings_of(name)
    nm, tm = _seeded_pair(name, seed, dtype)
    rng = numpy.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(dtype)
    y = rng.integers(0, 10, batch)
    epochs, per_epoch = 2, steps  # a short run: the cosine reaches half-way
    nopt = make_optimizer(settings["optimizer"], nm.parameters(), settings["lr"],
                          settings["momentum"], settings["weight_decay"])
    nsched, _ = make_scheduler(settings["schedule"], nopt, epochs, per_epoch)
    topt, tsched = torch_optimizer(tm, dict(settings, epochs=epochs), per_epoch)
    _train_without_dropout(nm, nerve.nn.Dropout)
    _train_without_dropout(tm, nn.Dropout)
    d_lr = 0.0
    for _ in range(steps):
        loss = nerve.nn.functional.cross_entropy(nm(nerve.Tensor(x)), nerve.Tensor(y))
        nopt.zero_grad()
        loss.backward()
        nopt.step()
        nsched.step()
        loss = F.cross_entropy(tm(torch.from_numpy(x)), torch.from_numpy(y))
        topt.zero_grad()
        loss.backward()
        topt.step()
        tsched.step()
        d_lr = max(d_lr, abs(nopt.param_groups[0]["lr"] - topt.param_groups[0]["lr"]))
    tsd = tm.state_dict()
    d_state = max(_max_diff(v.numpy(), tsd[k].numpy()) for k, v in nm.state_dict().items())
    return {"state": d_state, "lr": d_lr}


# ---- training --------------------------------------------------------------------------------
def settings_of(name: str, epochs: int | None = None) -> dict:
    """``nerve train``'s settings for ``name``: its defaults, then the model's train_defaults
    (nerve/cli_train.py's ``_settings``); this twin implements SGD with a cosine schedule."""
    spec = model_spec(name)
    s = {"dataset": "mnist", "optimizer": "sgd", "lr": 0.01, "momentum": 0.0,
         "weight_decay": 0.0, "batch_size": 64, "epochs": 10, "schedule": "none",
         **spec.train_defaults}
    s.pop("task", None)
    if epochs is not None:
        s["epochs"] = epochs
    if (s["dataset"], s["optimizer"], s["schedule"]) != ("cifar10", "sgd", "cosine"):
        raise ValueError(f"{name}: this twin implements cifar10 with sgd and a cosine schedule, "
                         f"the model's defaults are {s}")
    return s


def torch_optimizer(model: nn.Module, settings: dict, steps_per_epoch: int):
    """nerve's ``sgd`` (heavy-ball momentum, L2 weight decay on every parameter) and
    ``cosine`` schedule (to 0 over ``epochs * steps_per_epoch`` steps, stepped per batch)."""
    opt = torch.optim.SGD(model.parameters(), lr=settings["lr"], momentum=settings["momentum"],
                          weight_decay=settings["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=max(1, settings["epochs"] * steps_per_epoch))
    return opt, sched


def as_torch(batch):
    x, y = batch
    return torch.from_numpy(numpy.asarray(x.numpy())), torch.from_numpy(numpy.asarray(y.numpy()))


def whole(run: Run, dataset):
    """All of ``dataset`` (unaugmented) as two torch tensors, in order."""
    xs, ys = zip(*(as_torch(b) for b in run.loader(dataset, shuffle=False, batch_size=1000)))
    return torch.cat(xs), torch.cat(ys)


def evaluate(model: nn.Module, x, y, batch: int = 100):
    """(loss, accuracy) in eval mode (batches of 100: on one CPU thread, batches of 1,000 are
    up to 4x slower per image here)."""
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch])
            loss += F.cross_entropy(out, y[i:i + batch], reduction="sum").item()
            correct += int((out.argmax(1) == y[i:i + batch]).sum())
    return loss / len(x), correct / len(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=MODELS, default="resnet20")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: the model's train_defaults (15; densenet_small 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="as nerve train's (default: nerve's "
                   "data folder, then the shared data folder)")
    p.add_argument("--val-split", type=float, default=0.1,
                   help="as nerve train's (default 0.1; docs/results use 0)")
    p.add_argument("--limit-train", type=int, default=None, metavar="N",
                   help="train on the first N training images only (quick runs)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    report_equivalence(args.model, check_equivalence(args.model), ("eval", "train", "buffers"),
                       1e-3)

    # what nerve/cli_train.py's run_train does, in its order
    settings = settings_of(args.model, args.epochs)
    spec, task, run, data = nerve_run(args.model, settings, args.seed, args.data_dir,
                                      args.val_split, args.limit_train)
    config = {k: v for k, v in data.config.items() if k in spec.default_config}
    model = twin_of(args.model, get_model(args.model, **config))
    loader = run.loader(data.train, shuffle=True)
    x_test, y_test = whole(run, data.test)
    val = whole(run, data.val) if data.val is not None else None
    torch.manual_seed(args.seed)  # dropout masks
    opt, sched = torch_optimizer(model, settings, len(loader))
    s = settings
    print(f"torch twin of nerve train {args.model}: {len(data.train):,} training images"
          + (f", {len(data.val):,} for validation" if data.val is not None else "")
          + f", {len(x_test):,} test; {s['epochs']} epochs, batch {s['batch_size']}, sgd lr "
          f"{s['lr']} momentum {s['momentum']} weight decay {s['weight_decay']}, cosine "
          f"schedule per step ({s['epochs'] * len(loader)} steps), seed {args.seed}", flush=True)
    for epoch in range(1, s["epochs"] + 1):
        t = time.perf_counter()
        train_loss, train_acc = classify_epoch(model, map(as_torch, loader), F.cross_entropy,
                                               opt, sched)
        seconds = time.perf_counter() - t
        val_part = ""
        if val is not None:
            val_part = f", val accuracy {evaluate(model, *val)[1]:.4f}"
        t = time.perf_counter()
        test_loss, test_acc = evaluate(model, x_test, y_test)
        print(f"epoch {epoch}: loss {train_loss:.4f} (accuracy {train_acc:.4f})"
              f"{val_part}, test accuracy {test_acc:.4f} (loss {test_loss:.4f})  "
              f"{seconds:.1f}s (testing {time.perf_counter() - t:.1f}s)", flush=True)
    print(f"test accuracy {100 * test_acc:.2f}% on {len(x_test):,} test images after "
          f"{s['epochs']} epochs; wall time {time.perf_counter() - started:.0f}s "
          f"(torch {torch.__version__}, {torch.get_num_threads()} thread(s))")


if __name__ == "__main__":
    main()
