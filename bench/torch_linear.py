"""The linear zoo models, ``nerve train logreg|perceptron``, trained by PyTorch with identical
models, data and hyperparameters.

Shared with nerve, by calling nerve's own code:

- data: nerve's ``points`` task (the task of both models) loads the data: a 2-D point set
  (``blobs``, ``linear``, ``xor``, ``moons``, ``spirals``: 800 points drawn with the seed,
  shuffled, half for training, half for test) or an image set (``--dataset mnist``: the
  classify task's MNIST, scaled to [0, 1] and normalized by the MNIST mean and std); the same
  ``--val-split`` (default 0.1) of the training part is held out with the same ``--seed``
  (``Run.split``), ``--limit-train N`` keeps the first N; the training batches come from
  nerve's own seeded ``DataLoader`` (the same order every epoch), converted to torch tensors;
- model: one ``Linear`` layer on the flattened input with the same state_dict keys
  (``linear.weight``, ``linear.bias``); the nerve model is built after
  ``nerve.manual_seed(seed)`` exactly as ``nerve train`` builds it and its weights are copied
  into the torch model, so both start identical (``check_equivalence`` runs first);
- loss: the model's ``criterion``, which the points task trains with: cross-entropy for
  ``logreg``; for ``perceptron`` the perceptron criterion ``max(0, max_{j != y} s_j - s_y)``
  averaged over the batch, written as nerve writes it (``perceptron_loss`` below: the best
  wrong class is an ``amax`` over the scores with the true class pushed down by 1e30; tied
  maxima share the gradient, as nerve's ``max(axis=1)`` does); with batch 1 and lr 1, plain
  SGD on it is Rosenblatt's rule ``w_y += x, w_p -= x`` on each mistake;
- training: ``torch.optim.SGD`` with the settings of ``nerve train``: the model's
  train_defaults (SGD, no momentum, no weight decay, no schedule; logreg lr 0.5 batch 32,
  perceptron lr 1 batch 1; 20 epochs), overridden by ``--epochs``, ``--lr``,
  ``--batch-size`` and ``--dataset`` as on nerve's command line;
- test: accuracy and loss (the criterion) of the final model on the test split (nerve's
  ``test accuracy``, the last.nrv model's).

The two compute in float32 with different kernels; from the same start and the same batches
they agree step by step up to rounding (which, for the perceptron, can flip a point that sits
exactly on the boundary and then send the two runs apart).

Each epoch prints the mean training loss and accuracy, the validation loss and accuracy and
the epoch's training seconds; the last line the test accuracy and the wall time. For
docs/results.md, as the nerve runs there:

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_linear.py --model logreg \\
        --dataset mnist --epochs 5 --lr 0.1 --batch-size 64 --data-dir /work/shared/data
    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_linear.py --model perceptron \\
        --dataset blobs
"""
from __future__ import annotations

import argparse
import time

import numpy
import torch
from _twin import (
    classify_epoch,
    grads_diff,
    load_from_nerve,
    max_diff,
    nerve_run,
    params_diff,
    report_equivalence,
    to_torch,
    wall_line,
)
from torch import nn
from torch.nn import functional as F

import nerve
from nerve.models import get_model, model_spec
from nerve.tasks import Run, task_of
from nerve.train.recipes import make_optimizer

MODELS = ("logreg", "perceptron")


# ---- the models (nerve/models/linear.py) ------------------------------------------------------
class LinearClassifier(nn.Module):
    """``scores = W flatten(x) + b``: nerve's ``LogisticRegression`` and ``Perceptron``."""

    def __init__(self, in_features: int = 2, num_classes: int = 2):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(self.flatten(x))


def perceptron_loss(scores, target):
    """Mean perceptron criterion ``max(0, max_{j != y} s_j - s_y)`` of ``(N, C)`` scores, as
    nerve's ``perceptron_loss`` computes it (``amax``: tied best wrong classes share the
    gradient, like nerve's ``max(axis=1)``; torch's ``max(dim=1)`` would give it to one)."""
    onehot = F.one_hot(target, scores.shape[1]).to(scores.dtype)
    true = (scores * onehot).sum(dim=1)
    other = (scores - onehot * 1e30).amax(dim=1)
    return F.relu(other - true).mean()


CRITERIA = {"logreg": F.cross_entropy, "perceptron": perceptron_loss}


def twin_of(nerve_model) -> LinearClassifier:
    """A torch model holding a copy of ``nerve_model``'s weights (and its dtype)."""
    model = LinearClassifier(**nerve_model.config)
    if next(iter(nerve_model.parameters())).dtype == numpy.float64:
        model = model.double()
    return load_from_nerve(model, nerve_model)


# ---- settings and optimizer ------------------------------------------------------------------
def settings_of(name: str, **overrides) -> dict:
    """``nerve train``'s settings for ``name``: its defaults, the model's train_defaults, then
    the command-line ``overrides`` that are not None (nerve/cli_train.py's ``_settings``).
    This twin implements SGD without a schedule, the models' recipe."""
    spec = model_spec(name)
    s = {"dataset": "mnist", "optimizer": "sgd", "lr": 0.01, "momentum": 0.0,
         "weight_decay": 0.0, "batch_size": 64, "epochs": 10, "schedule": "none",
         **spec.train_defaults}
    s.pop("task", None)
    s.update({k: v for k, v in overrides.items() if v is not None})
    if (s["optimizer"], s["schedule"]) != ("sgd", "none"):
        raise ValueError(f"{name}: this twin implements sgd without a schedule; the settings "
                         f"are {s}")
    if s["dataset"] not in task_of(spec).datasets:
        raise ValueError(f"{name}: --dataset must be one of {', '.join(task_of(spec).datasets)}")
    return s


def torch_optimizer(model: nn.Module, settings: dict) -> torch.optim.SGD:
    """nerve's ``sgd`` (``torch.optim.SGD``'s update, which nerve's SGD mirrors)."""
    return torch.optim.SGD(model.parameters(), lr=settings["lr"],
                           momentum=settings["momentum"], weight_decay=settings["weight_decay"])


# ---- equivalence check -----------------------------------------------------------------------
def check_equivalence(name: str, seed: int = 0, batch: int = 16, steps: int = 3,
                      in_features: int = 784, num_classes: int = 10, lr: float | None = None,
                      dtype: str = "float32") -> dict:
    """Build ``name`` in nerve after ``nerve.manual_seed(seed)``, copy it into the twin and
    compare on random batches (inputs N(0, 1), random labels): the eval-mode scores, then the
    first step's scores, loss (the model's criterion) and gradients, and the parameters after
    ``steps`` SGD steps with the model's settings (``lr`` to override its learning rate).
    Returns the largest absolute differences, with ``grad_scale`` (the largest gradient) and
    ``step_scale`` (the largest parameter change) for scale."""
    settings = settings_of(name, lr=lr)
    nerve.manual_seed(seed)
    n_model = get_model(name, in_features=in_features, num_classes=num_classes)
    if dtype == "float64":
        n_model = n_model.double()
    model = twin_of(n_model)
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    rng = numpy.random.default_rng(seed)
    data = [(rng.standard_normal((batch, in_features)).astype(dtype),
             rng.integers(0, num_classes, batch)) for _ in range(steps)]
    with nerve.no_grad(), torch.no_grad():
        n_model.eval()
        model.eval()
        out = {"eval_scores": max_diff(n_model(nerve.tensor(data[0][0])).data,
                                       model(to_torch(data[0][0])))}
    n_opt = make_optimizer(settings["optimizer"], n_model.parameters(), settings["lr"],
                           settings["momentum"], settings["weight_decay"])
    opt = torch_optimizer(model, settings)
    n_model.train()
    model.train()
    n_loss_fn, loss_fn = n_model.criterion, CRITERIA[name]
    for i, (x, y) in enumerate(data):
        n_scores = n_model(nerve.tensor(x))
        n_loss = n_loss_fn(n_scores, nerve.tensor(y))
        n_opt.zero_grad()
        n_loss.backward()
        n_opt.step()
        scores = model(to_torch(x))
        loss = loss_fn(scores, to_torch(y))
        opt.zero_grad()
        loss.backward()
        if i == 0:
            out.update(scores=max_diff(n_scores.data, scores), loss=abs(n_loss.item()
                                                                       - loss.item()),
                       grads=grads_diff(n_model, model), loss_value=loss.item(),
                       grad_scale=max(float(p.grad.abs().max()) for p in model.parameters()))
        opt.step()
    out["params_after_steps"] = params_diff(n_model, model)
    out["step_scale"] = max(float((p.detach() - start[k]).abs().max())
                            for k, p in model.named_parameters())
    return out


# ---- training --------------------------------------------------------------------------------
def evaluate(model: nn.Module, loss_fn, x, y):
    """(loss, accuracy) of the whole split in eval mode."""
    model.eval()
    with torch.no_grad():
        scores = model(x)
        return loss_fn(scores, y).item(), (scores.argmax(1) == y).double().mean().item()


def whole(run: Run, dataset):
    """All of ``dataset`` as two torch tensors, in order (through nerve's loader and
    transforms)."""
    xs, ys = zip(*((to_torch(x), to_torch(y))
                   for x, y in run.loader(dataset, shuffle=False, batch_size=1000)))
    return torch.cat(xs), torch.cat(ys)


def main(argv=None) -> LinearClassifier:
    """Train as ``nerve train`` would (see the module); returns the trained torch model."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=MODELS, default="logreg")
    p.add_argument("--dataset", default=None,
                   help="a point set (blobs, linear, xor, moons, spirals) or an image set "
                        "(mnist, ...); default: the model's (blobs)")
    p.add_argument("--epochs", type=int, default=None, help="default: the model's (20)")
    p.add_argument("--lr", type=float, default=None,
                   help="default: the model's (logreg 0.5, perceptron 1)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: the model's (logreg 32, perceptron 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="as nerve train's (image sets)")
    p.add_argument("--offline", action="store_true", help="never download (image sets)")
    p.add_argument("--val-split", type=float, default=0.1, help="as nerve train's (default 0.1)")
    p.add_argument("--limit-train", type=int, default=None, metavar="N",
                   help="train on the first N training samples only (quick runs)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    report_equivalence(args.model, check_equivalence(args.model),
                       ("eval_scores", "scores", "loss"), 1e-4)

    # what nerve/cli_train.py's run_train does, in its order
    s = settings_of(args.model, dataset=args.dataset, epochs=args.epochs, lr=args.lr,
                    batch_size=args.batch_size)
    spec, task, run, data = nerve_run(args.model, s, args.seed, args.data_dir, args.val_split,
                                      args.limit_train, args.offline)
    config = {k: v for k, v in data.config.items() if k in spec.default_config}
    model = twin_of(get_model(args.model, **config))
    torch.manual_seed(args.seed)
    loader = run.loader(data.train, shuffle=True)
    x_test, y_test = whole(run, data.test)
    val = whole(run, data.val) if data.val is not None else None
    loss_fn = CRITERIA[args.model]
    opt = torch_optimizer(model, s)
    unit = "points" if data.meta.get("points") else "images"
    print(f"torch twin of nerve train {args.model}: {data.name}, {len(data.train):,} training "
          f"{unit}" + (f", {len(data.val):,} for validation" if val is not None else "")
          + f", {len(x_test):,} test; {s['epochs']} epochs, batch {s['batch_size']}, sgd lr "
          f"{s['lr']} momentum {s['momentum']} weight decay {s['weight_decay']}, no schedule, "
          f"seed {args.seed}", flush=True)
    for epoch in range(1, s["epochs"] + 1):
        t = time.perf_counter()
        train_loss, train_acc = classify_epoch(
            model, ((to_torch(x), to_torch(y)) for x, y in loader), loss_fn, opt)
        seconds = time.perf_counter() - t
        val_part = ""
        if val is not None:
            val_loss, val_acc = evaluate(model, loss_fn, *val)
            val_part = f", val loss {val_loss:.4f} accuracy {val_acc:.4f}"
        print(f"epoch {epoch}: loss {train_loss:.4f} (accuracy {train_acc:.4f})"
              f"{val_part}  {seconds:.2f}s", flush=True)
    test_loss, test_acc = evaluate(model, loss_fn, x_test, y_test)
    print(f"test accuracy {100 * test_acc:.2f}% (loss {test_loss:.4f}) on {len(x_test):,} "
          f"{data.name} test {unit} after {s['epochs']} epochs; "
          + wall_line(started, time.perf_counter()))
    return model


if __name__ == "__main__":
    main()
