"""Training-step speed of nerve against PyTorch: an MLP, LeNet-5, a VGG-style CNN, a char-LSTM.

    python bench/bench_nn.py [--json results.json] [--threads N] [--cases mlp,lenet,vgg,lstm]

One step is ``zero_grad`` + forward + cross-entropy + ``backward`` + ``SGD(momentum=0.9).step``
on a fixed random batch. Each model is written once against the API that nerve shares with
PyTorch and built with ``lib = nerve`` or ``lib = torch``; both start from the same weights
(drawn with NumPy, loaded through ``load_state_dict``), and the parent checks that the first
step's loss and gradient norm agree. The harness (bench/harness.py) runs each framework in its
own child process over alternating rounds and reports medians. See bench/README.md.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import Column, Row  # noqa: E402

LR, MOMENTUM = 0.01, 0.9
VGG_CONFIG = [64, 64, "M", 128, 128, "M", 256, "M"]  # 3x3 conv-BN-ReLU blocks, "M" = maxpool 2
VOCAB, EMBED, HIDDEN, SEQ, LSTM_BATCH = 65, 64, 256, 64, 32

# case: (label, target nerve/torch)
CASES = {
    "mlp": ("MLP 784-512-512-10, batch 128", 1.2),
    "lenet": ("LeNet-5, 1x28x28, batch 64", 2.0),
    "vgg": ("VGG-style CNN with batch norm, 3x32x32, batch 64", 2.0),
    "lstm": (f"char-LSTM (vocab {VOCAB}, embed {EMBED}, hidden {HIDDEN}), seq {SEQ}, "
             f"batch {LSTM_BATCH}", 2.0),
}
PHASES = ("forward", "backward", "update")  # forward includes zero_grad and the loss
PHASE_LABELS = {"forward": "zero_grad + forward + loss", "backward": "backward",
                "update": "optimizer step"}


# ---- the models, written once for both libraries -----------------------------------------------
def mlp(nn):
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                         nn.Linear(512, 10))


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def vgg(nn):
    layers, channels = [], 3
    for item in VGG_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:  # no conv bias: the batch norm's shift replaces it
            layers += [nn.Conv2d(channels, item, 3, padding=1, bias=False),
                       nn.BatchNorm2d(item), nn.ReLU()]
            channels = item
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))


def char_lstm(nn):
    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.lstm = nn.LSTM(EMBED, HIDDEN)  # (seq, batch, feature), PyTorch's default
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, x):
            out, _ = self.lstm(self.embed(x))
            return self.head(out).reshape(-1, VOCAB)

    return CharLSTM()


def batch(case):
    """The fixed random batch (NumPy): inputs and integer class targets."""
    import numpy as np

    rng = np.random.default_rng(0)
    if case == "lstm":
        return (rng.integers(0, VOCAB, (SEQ, LSTM_BATCH)),
                rng.integers(0, VOCAB, SEQ * LSTM_BATCH))
    shape = {"mlp": (128, 784), "lenet": (64, 1, 28, 28), "vgg": (64, 3, 32, 32)}[case]
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, shape[0])


def initial_weights(case, model):
    """NumPy weights for every parameter, the same in every process: U(+-1/sqrt(fan_in)) for
    matrices and kernels (PyTorch's default scale), ones for 1-D weights (batch norm), and
    U(+-0.1) for biases. Each name seeds its own generator, so order does not matter."""
    import numpy as np

    weights = {}
    for name, p in model.named_parameters():
        shape = tuple(p.shape)
        rng = np.random.default_rng(zlib.crc32(f"{case}.{name}".encode()))
        if len(shape) >= 2:
            bound = 1 / math.sqrt(math.prod(shape[1:]))
        elif name.endswith("weight"):
            weights[name] = np.ones(shape, np.float32)
            continue
        else:
            bound = 0.1
        weights[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return weights


MODELS = {"mlp": mlp, "lenet": lenet, "vgg": vgg, "lstm": char_lstm}


def training_step(case, lib):
    """The model, optimizer and one step (returning its loss) for ``lib`` (nerve or torch)."""
    model = MODELS[case](lib.nn)
    model.load_state_dict({k: lib.tensor(v) for k, v in initial_weights(case, model).items()},
                          strict=False)  # buffers (batch-norm statistics) keep their init
    model.train()
    x, y = (lib.tensor(a) for a in batch(case))
    opt = lib.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    cross_entropy = lib.nn.functional.cross_entropy

    def step():
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        return loss, (t0, t1, t2, time.perf_counter())

    return model, step


def cases(name, lib, args):
    """Times every selected case in this worker (nerve or torch)."""
    import numpy as np

    results = {}
    for case in args.cases.split(","):
        model, step = training_step(case, lib)
        loss, _ = step()  # the first step, from the shared weights: checked across workers
        results[f"{case}_loss_checksum"] = float(loss.item())
        results[f"{case}_gradnorm_checksum"] = math.sqrt(sum(
            float((np.asarray(p.grad, dtype=np.float64) ** 2).sum())
            for p in model.parameters()))
        timing = harness.time_phases(lambda: step()[1], PHASES, args.warmup, args.repeats)
        for part in PHASES + ("total", "total_all"):
            results[f"{case}_{part}"] = timing[part]
    return results


def check(name, run, nerve):
    """Warnings where the first step's loss or gradient norm differ from nerve's."""
    notes = []
    for key, ref in nerve["results"].items():
        got = run["results"].get(key)
        if key.endswith("_checksum") and got is not None and abs(got - ref) > 1e-4 * abs(ref):
            what = key.removesuffix("_checksum").replace("_", " first-step ")
            notes.append(f"WARNING: {what} differs: nerve {ref:.7g}, {name} {got:.7g}")
    return notes


def selected(text):
    """``--cases``: a comma-separated subset of CASES, in the order given."""
    names = text.split(",")
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown case(s) {unknown}; choose from "
                                         f"{','.join(CASES)}")
    return text


def rows(args):
    out = []
    for case in args.cases.split(","):
        label, target = CASES[case]
        out.append(Row(f"{case}_total", f"{label}: training step", "ms", 1e3, target))
        out += [Row(f"{case}_{part}", f"  of which {PHASE_LABELS[part]}", "ms", 1e3, None)
                for part in PHASES]
    return out


SPEC = harness.Spec(
    script=__file__, description=__doc__.splitlines()[0], workers=("nerve", "torch"),
    columns=[Column("nerve", "nerve", "nerve"), Column("torch", "torch", "torch")],
    rows=rows, cases=cases, check=check, repeats=11, warmup=2,
    options=[(("--cases",), dict(type=selected, default=",".join(CASES),
                                 help="comma-separated subset of " + ",".join(CASES)))])


if __name__ == "__main__":
    harness.main(SPEC)
