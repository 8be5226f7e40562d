"""Train the same MNIST model in nerve and in PyTorch, side by side: test accuracy and epoch
time.

The two runs share everything that can be shared: the architecture (``nerve.models``' MLP or
LeNet-5 and its twin built from ``torch.nn``), the initial weights (nerve's, copied into
torch), the train/validation split, the order of the samples in every epoch (nerve's
``DataLoader`` with the seed; torch gets the same index lists), the input scaling and the
hyperparameters of ``nerve train`` (SGD with momentum 0.9, lr 0.05, batch 128, cosine decay
per step, 10 epochs). Only the dropout masks differ: each library draws its own. The nerve run
is ``nerve train``'s own pipeline (``nerve.train.fit`` on the dataset with its transforms).

Each framework runs in its own process, one after the other (see bench/README.md). Targets:
nerve's test accuracy within 0.3 points of PyTorch's, its median epoch time within 1.5x.

    python bench/bench_train.py                       # both models, full MNIST, 10 epochs
    python bench/bench_train.py --model lenet --threads 1 --json lenet.json
    python bench/bench_train.py --epochs 1 --limit-train 2000   # a quick look
    python bench/bench_train.py --model lenet --dataset fashion-mnist
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, THREAD_VARS, forced_kernel_note, load_worker, machine  # noqa: E402

ACCURACY_POINTS, TIME_RATIO = 0.3, 1.5


# ---- the plan both workers follow ------------------------------------------------------------
def _nerve():
    sys.path.insert(0, str(ROOT))
    import nerve

    return nerve


def _datasets(nerve, data_dir, dataset="mnist"):
    from nerve.train.recipes import load_image_data

    data = load_image_data(dataset, data_dir, download=False)
    if data.fallback_reason:
        raise SystemExit(f"bench_train: needs the full {dataset}: {data.fallback_reason}")
    return data


def make_plan(args, model_name: str, path: Path) -> dict:
    """What ``nerve train MODEL --seed S`` starts from: weights, split, per-epoch orders."""
    nerve = _nerve()
    from nerve.data import DataLoader, TensorDataset, random_split
    from nerve.models import get_model, model_spec

    s = dict(model_spec(model_name).train_defaults, epochs=args.epochs)
    nerve.manual_seed(args.seed)
    data = _datasets(nerve, args.data_dir, args.dataset)
    n = len(data.train)
    k = int(round(n * 0.1))  # nerve train's default --val-split
    train, _ = random_split(data.train, [n - k, k], seed=args.seed)
    train_idx = numpy.asarray(train.indices, dtype=numpy.int64)
    if args.limit_train:
        train_idx = train_idx[:args.limit_train]
    model = get_model(model_name)
    weights = [p.detach().numpy() for p in model.parameters()]
    # the batches nerve's loader will draw: the order depends on (seed, epoch, length) only
    index_loader = DataLoader(TensorDataset(numpy.arange(len(train_idx))),
                              batch_size=s["batch_size"], shuffle=True, seed=args.seed)
    orders = [numpy.concatenate([b[0].numpy() for b in index_loader])
              for _ in range(s["epochs"])]
    numpy.savez(path, train_idx=train_idx, orders=numpy.stack(orders),
                **{f"w{i}": w for i, w in enumerate(weights)})
    return {"model": model_name, "settings": s, "seed": args.seed, "data_dir": args.data_dir,
            "dataset": args.dataset, "plan": str(path), "n_weights": len(weights)}


# ---- workers ----------------------------------------------------------------------------------
def _timed_epochs(epochs, run_epoch):
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        run_epoch(epoch)
        times.append(time.perf_counter() - start)
    return times


def nerve_worker(spec, plan):
    nerve = _nerve()
    from nerve import nn
    from nerve.data import DataLoader, Subset
    from nerve.models import get_model
    from nerve.train import evaluate, fit
    from nerve.train.recipes import make_optimizer, make_scheduler

    s = spec["settings"]
    nerve.manual_seed(spec["seed"])
    data = _datasets(nerve, spec["data_dir"], spec.get("dataset", "mnist"))
    model = get_model(spec["model"])
    with nerve.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(nerve.tensor(plan[f"w{i}"]))
    loader = DataLoader(Subset(data.train, plan["train_idx"].tolist()),
                        batch_size=s["batch_size"], shuffle=True, seed=spec["seed"])
    opt = make_optimizer(s["optimizer"], model.parameters(), s["lr"], s["momentum"],
                         s["weight_decay"])
    sched, interval = make_scheduler(s["schedule"], opt, s["epochs"], len(loader))
    history = fit(model, loader, nn.CrossEntropyLoss(), opt, s["epochs"], scheduler=sched,
                  scheduler_interval=interval, progress=False)
    test = evaluate(model, data.test, metrics=("accuracy",), batch_size=1000)
    return {"epoch_times": history["time"], "accuracy": test["accuracy"],
            "train_loss": history["loss"]}


def torch_worker(spec, plan, torch):
    nerve = _nerve()  # only its data files and transforms (NumPy), so the inputs are identical
    from nerve.data.transforms import Compose, Normalize, ToTensor

    s = spec["settings"]
    torch.manual_seed(spec["seed"])
    data = _datasets(nerve, spec["data_dir"], spec.get("dataset", "mnist"))
    mean, std = data.mean, data.std
    images = torch.from_numpy(data.train.data[plan["train_idx"]])  # uint8 (N, 28, 28)
    labels = torch.from_numpy(data.train.targets[plan["train_idx"]])
    to_input = Compose([ToTensor(), Normalize(mean, std)]).batch
    # nerve's batch transform, in torch: u8 / 255 in float32, then (x - mean) * (1 / std)
    mean32 = torch.tensor(numpy.float32(mean[0]))
    inv_std32 = torch.tensor(numpy.float32(1.0 / std[0]))
    tnn = torch.nn
    if spec["model"] == "mlp":
        model = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Dropout(0.2),
                               tnn.Linear(512, 512), tnn.ReLU(), tnn.Dropout(0.2),
                               tnn.Linear(512, 10))
    else:
        model = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(),
                               tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.from_numpy(plan[f"w{i}"]))
    assert s["optimizer"] == "sgd" and s["schedule"] == "cosine", s
    opt = torch.optim.SGD(model.parameters(), lr=s["lr"], momentum=s["momentum"],
                          weight_decay=s["weight_decay"])
    bs = s["batch_size"]
    steps = -(-len(labels) // bs)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=s["epochs"] * steps)
    loss_fn = tnn.CrossEntropyLoss()
    losses = []

    def run_epoch(epoch):
        model.train()
        order = torch.from_numpy(plan["orders"][epoch])
        total = 0.0
        for b in range(steps):
            idx = order[b * bs:(b + 1) * bs]
            x = ((images[idx].unsqueeze(1).float() / 255) - mean32) * inv_std32
            loss = loss_fn(model(x), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        losses.append(total / len(labels))

    times = _timed_epochs(s["epochs"], run_epoch)
    model.eval()
    test_x = torch.from_numpy(to_input(data.test.data))
    correct = 0
    with torch.no_grad():
        for b in range(0, len(test_x), 1000):
            pred = model(test_x[b:b + 1000]).argmax(1).numpy()
            correct += int((pred == data.test.targets[b:b + 1000]).sum())
    return {"epoch_times": times, "accuracy": correct / len(test_x), "train_loss": losses}


def run_worker(args):
    spec = json.loads(Path(args.spec).read_text())
    lib, info = load_worker(args.worker, args.threads)
    with numpy.load(spec["plan"]) as npz:
        plan = {k: npz[k] for k in npz.files}
    result = nerve_worker(spec, plan) if args.worker == "nerve" else torch_worker(spec, plan,
                                                                                   lib)
    print(json.dumps({"info": info, "results": result}))


def run_child(name, spec_path, args):
    env = dict(os.environ)
    if args.threads:
        env.update({var: str(args.threads) for var in THREAD_VARS})
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--spec",
           str(spec_path)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- the parent -------------------------------------------------------------------------------
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["mlp", "lenet", "all"], default="all")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"),
                   help="folder holding mnist/ (default ../shared/data)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--rounds", type=int, default=1, help="runs of each worker (median time)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS/OpenMP threads for both (default: each library's default)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--worker", choices=["nerve", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return run_worker(args)
    import importlib.util

    workers = ["nerve"] + ([] if args.no_torch or importlib.util.find_spec("torch") is None
                           else ["torch"])
    mach = machine()
    models = ["mlp", "lenet"] if args.model == "all" else [args.model]
    rows, raw = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for name in models:
            spec = make_plan(args, name, Path(tmp) / f"{name}.npz")
            spec_path = Path(tmp) / f"{name}.json"
            spec_path.write_text(json.dumps(spec))
            runs = {w: [] for w in workers}
            for _ in range(args.rounds):
                for w in workers:
                    runs[w].append(run_child(w, spec_path, args))
            raw[name] = {"spec": spec, "runs": runs}
            rows.append(_row(name, runs))
    text = _report(mach, rows, raw, args)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": mach, "rows": rows, "raw": raw,
                                               "threads": args.threads}, indent=2))
        print(f"\nwrote {args.json}")


def _row(name, runs):
    row = {"model": name}
    for w, results in runs.items():
        times = [t for r in results for t in r["results"]["epoch_times"]]
        row[w] = {"accuracy": statistics.median(r["results"]["accuracy"] for r in results),
                  "epoch_s": statistics.median(times), "total_s": statistics.median(
                      sum(r["results"]["epoch_times"]) for r in results),
                  "threads": results[0]["info"]["threads"]}
    if "torch" in row:
        row["accuracy_gap"] = 100 * (row["torch"]["accuracy"] - row["nerve"]["accuracy"])
        row["time_ratio"] = row["nerve"]["epoch_s"] / row["torch"]["epoch_s"]
    return row


def _report(mach, rows, raw, args) -> str:
    spec = next(iter(raw.values()))["spec"]
    s = spec["settings"]
    lines = [f"Machine: {mach['cpu']}, {mach['logical_cpus']} logical CPUs "
             f"({mach['usable_cpus']} usable); numpy {mach['numpy']} ({mach['numpy_blas']}); "
             f"threads: {args.threads or 'each library default'}",
             f"Settings: {s['epochs']} epochs, batch {s['batch_size']}, {s['optimizer']} lr "
             f"{s['lr']} momentum {s['momentum']}, {s['schedule']} schedule, seed {args.seed}"
             + (f", first {args.limit_train} training images" if args.limit_train else
                ", 54,000 training images") + f"; test on the 10,000 {args.dataset} test images.",
             "",
             "| model | nerve test acc | torch test acc | gap (points) | nerve epoch | "
             "torch epoch | nerve/torch | met |",
             "|---|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        n, t = r["nerve"], r.get("torch")
        if t is None:
            lines.append(f"| {r['model']} | {100 * n['accuracy']:.2f}% | - | - | "
                         f"{n['epoch_s']:.2f} s | - | - | - |")
            continue
        met = abs(r["accuracy_gap"]) <= ACCURACY_POINTS and r["time_ratio"] <= TIME_RATIO
        lines.append(f"| {r['model']} | {100 * n['accuracy']:.2f}% | {100 * t['accuracy']:.2f}% "
                     f"| {r['accuracy_gap']:+.2f} | {n['epoch_s']:.2f} s | {t['epoch_s']:.2f} s "
                     f"| {r['time_ratio']:.2f}x | {'yes' if met else 'no'} |")
    lines += ["", f"Targets: accuracy within {ACCURACY_POINTS} points, epoch time (median over "
              f"epochs) within {TIME_RATIO}x. Epoch time is the training loop only (no "
              f"validation)."]
    for name, entry in raw.items():
        for w, results in entry["runs"].items():
            times = results[0]["results"]["epoch_times"]
            if max(times) > 1.5 * min(times):
                lines.append(f"Note: {name}/{w} epoch times range {min(times):.2f}-"
                             f"{max(times):.2f} s: the machine was busy; consider --threads 1 "
                             f"or a rerun.")
    note = forced_kernel_note()
    return "\n".join(lines + ([note] if note else []))


if __name__ == "__main__":
    main()
