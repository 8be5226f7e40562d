"""Helpers shared by the PyTorch twins that start from nerve's own initial weights
(bench/torch_cifar.py, torch_gan.py, torch_linear.py, torch_transformer_lm.py,
torch_word2vec.py): run nerve train's data steps, copy a seeded nerve model into a torch model
with the same ``state_dict``, take identical training steps in both, and compare.
"""
from __future__ import annotations

import argparse

import numpy
import torch
from torch import nn

import nerve
from nerve.train.recipes import make_optimizer, make_scheduler


def to_torch(x) -> torch.Tensor:
    """A nerve Tensor or NumPy array as a torch tensor (same dtype, no copy of NumPy data)."""
    return torch.from_numpy(numpy.ascontiguousarray(x.numpy() if hasattr(x, "numpy") else x))


def to_numpy(x) -> numpy.ndarray:
    """A torch or nerve tensor (or array) as a float64 NumPy array, for comparisons."""
    if isinstance(x, torch.Tensor):
        return x.detach().double().numpy()
    return numpy.asarray(x.numpy(force=True) if hasattr(x, "numpy") else x, dtype=numpy.float64)


def load_from_nerve(model: nn.Module, nerve_model) -> nn.Module:
    """Copy every entry of ``nerve_model.state_dict()`` into ``model`` (strict: the same keys
    and shapes)."""
    state = {k: torch.from_numpy(v.numpy(force=True).copy())
             for k, v in nerve_model.state_dict().items()}
    model.load_state_dict(state, strict=True)
    return model


def max_diff(a, b) -> float:
    return float(numpy.max(numpy.abs(to_numpy(a) - to_numpy(b)))) if numpy.size(a) else 0.0


def params_diff(nerve_model, model: nn.Module) -> float:
    """The largest |difference| between same-named parameters."""
    mine = dict(model.named_parameters())
    return max(max_diff(p.data, mine[k]) for k, p in nerve_model.named_parameters())


def grads_diff(nerve_model, model: nn.Module) -> float:
    """The largest |difference| between the gradients of same-named parameters."""
    mine = dict(model.named_parameters())
    return max(max_diff(p.grad, mine[k].grad) for k, p in nerve_model.named_parameters())


def torch_step(model, loss_fn, inputs, target, opt, sched, clip) -> float:
    """One training step as nerve's ``fit``: forward, loss, backward, optional gradient-norm
    clipping, ``opt.step()``, then the per-step scheduler; returns the loss."""
    loss = loss_fn(model(*inputs), target)
    opt.zero_grad()
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    if sched is not None:
        sched.step()
    return loss.item()


def compare_training(nerve_model, model, batches, nerve_loss, loss_fn, settings: dict,
                     torch_optimizer, epochs: int, steps_per_epoch: int) -> dict:
    """Train both models on the same ``batches`` (tuples of arrays, the target last): nerve
    with the optimizer and scheduler ``nerve train`` makes from ``settings``, torch with
    ``torch_optimizer(model, epochs, steps_per_epoch) -> (opt, sched)``; both clip at
    ``settings["clip_grad_norm"]``. Returns the largest differences of the first step's
    outputs, loss and gradients and of the parameters after the last step."""
    clip = settings.get("clip_grad_norm")
    n_opt = make_optimizer(settings["optimizer"], nerve_model.parameters(), settings["lr"],
                           settings.get("momentum", 0.0), settings.get("weight_decay", 0.0))
    n_sched, interval = make_scheduler(settings["schedule"], n_opt, epochs, steps_per_epoch)
    if interval != "step":
        raise ValueError(f"compare_training: a per-{interval} schedule is not stepped here")
    opt, sched = torch_optimizer(model, epochs, steps_per_epoch)
    nerve_model.train()
    model.train()
    out: dict = {}
    for i, batch in enumerate(batches):
        n_out = nerve_model(*(nerve.tensor(a) for a in batch[:-1]))
        n_l = nerve_loss(n_out, nerve.tensor(batch[-1]))
        n_opt.zero_grad()
        n_l.backward()
        if clip is not None:
            nerve.nn.utils.clip_grad_norm_(nerve_model.parameters(), clip)
        if i == 0:
            t_out = model(*(to_torch(a) for a in batch[:-1]))
            t_l = loss_fn(t_out, to_torch(batch[-1]))
            opt.zero_grad()
            t_l.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            out.update(outputs=max_diff(n_out.data, t_out), loss=abs(n_l.item() - t_l.item()),
                       grads=grads_diff(nerve_model, model))
            opt.step()
            if sched is not None:
                sched.step()
        else:
            torch_step(model, loss_fn, [to_torch(a) for a in batch[:-1]], to_torch(batch[-1]),
                       opt, sched, clip)
        n_opt.step()
        if n_sched is not None:
            n_sched.step()
    out["params_after_steps"] = params_diff(nerve_model, model)
    out["lr_after_steps"] = abs(n_opt.param_groups[0]["lr"] - opt.param_groups[0]["lr"])
    return out


def wall_line(start: float, now: float) -> str:
    return (f"wall time {now - start:.1f}s; torch {torch.__version__}, "
            f"{torch.get_num_threads()} thread(s)")


def parse_and_seed(description: str, epochs: int, items: str, argv=None):
    """The twins' command line (--data-dir, --epochs, --seed, --limit N), then both libraries
    seeded as ``nerve train`` does (seed first, then the data, then the model)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help=f"train on the first N {items} only (nerve train --limit-train N)")
    args = p.parse_args(argv)
    nerve.manual_seed(args.seed)
    torch.manual_seed(args.seed)
    return args


def nerve_run(model_name: str, settings: dict, seed: int, data_dir=None, val_split=0.1,
              limit_train=None, offline=False):
    """What ``nerve train MODEL`` does before building the model, in its order: seed, load
    the task's data (printing its notes), hold out ``val_split``, apply ``limit_train``.
    Returns ``(spec, task, run, data)``, so that a twin trains on nerve's very samples."""
    from pathlib import Path

    from nerve.models import model_spec
    from nerve.tasks import Run, task_of

    spec = model_spec(model_name)
    task = task_of(spec)
    run_args = argparse.Namespace(data_dir=data_dir, offline=offline, quiet=False,
                                  val_split=val_split, limit_train=limit_train)
    nerve.manual_seed(seed)
    run = Run(run_args, settings, nerve.device("cpu"), Path("."), seed)
    data = task.load(run)
    for note in data.notes:
        print(note, flush=True)
    data.train, data.val = run.split(data.train, data.val, hold_out=task.validates)
    return spec, task, run, data


def report_equivalence(name: str, diffs: dict, keys, tolerance: float) -> None:
    """Print a twin's equivalence check; stop the run when ``keys`` differ beyond
    ``tolerance`` (the twin would not be training nerve's model)."""
    print(f"equivalence with nerve's {name} (max abs differences): "
          + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()), flush=True)
    if max(diffs[k] for k in keys) > tolerance:
        raise SystemExit("the torch twin does not compute what nerve's model computes")


def classify_epoch(model, batches, loss_fn, opt, sched=None) -> tuple:
    """One training epoch of a classifier over torch ``(x, y)`` batches, the schedule (if
    any) stepped per batch as nerve's; returns (mean loss, accuracy) over the epoch."""
    model.train()
    total, correct, seen = 0.0, 0, 0
    for x, y in batches:
        out = model(x)
        loss = loss_fn(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        total += loss.item() * len(y)
        correct += int((out.argmax(1) == y).sum())
        seen += len(y)
    return total / seen, correct / seen
