"""Character-level language modelling (char_rnn, transformer_lm) on Tiny Shakespeare.

Data: the text (Tiny Shakespeare, or ``--dataset text --data-dir FILE_OR_FOLDER`` for any
UTF-8 file, ``input.txt`` in a folder) is split contiguously into train / validation / test
(the first 90%, the next 5%, the last 5% of the characters). The vocabulary is the text's
sorted characters, stored in the checkpoint's meta so ``nerve evaluate``/``nerve sample``
encode text the same way.

An epoch: the corpus has about a million training windows (one per start position), far
too many to visit every epoch on a CPU, so an epoch is ``windows_per_epoch`` windows of
``seq_len`` characters (train settings of the model; 8,192 x 128 characters ~ one pass over
the 1 M training characters in expectation) drawn without replacement from all start
positions, in a new order every epoch, seeded by ``--seed``. ``--limit-train N`` keeps the
first N start positions (and an epoch is then at most N windows); ``--val-split`` is not
used (the validation split is the fixed 5% above).

Loss: cross-entropy per character, in nats (``bits_per_char`` = nats / ln 2, ``perplexity``
= exp(nats)). Validation and test losses are means over non-overlapping windows of
``seq_len`` characters, each read from an empty context (the LSTM's state starts at zero,
the transformer sees only the window), as nanoGPT and char-rnn report them. ``nerve train``
ends by writing a sample (``samples.txt``, temperature 0.8, primed with "ROMEO:");
``nerve sample CKPT --temperature T --prime TEXT --n N`` draws more.

>>> train, val, test = split_ids(numpy.arange(100))
>>> len(train), len(val), len(test)
(90, 5, 5)
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy

from ..data.dataset import Dataset
from .base import Run, Task, TaskData, register_task

__all__ = ["TEXT_DATASETS", "LanguageModel", "Windows", "lm_loss", "load_text", "split_ids"]

TEXT_DATASETS = ("tinyshakespeare", "text")
SPLITS = (0.9, 0.05, 0.05)
PRIME = "ROMEO:"
SAMPLE_TEMPERATURE = 0.8


# ---- data ---------------------------------------------------------------------------------
def load_text(dataset: str, data_dir=None) -> tuple[str, str]:
    """``(text, where it came from)``. Tiny Shakespeare is looked for in ``data_dir`` if
    given, else in the data home (``$NERVE_DATA``) and the shared data folder, and
    sha256-checked; ``text`` reads ``data_dir`` (a file, or a folder holding input.txt)."""
    from ..data.datasets import MissingDataError, TinyShakespeare, data_home, find_shared_data
    from ..data.datasets.download import verify_file

    if dataset == "text":
        if data_dir is None:
            raise ValueError("--dataset text needs --data-dir: a UTF-8 text file, or a folder "
                             "holding input.txt")
        path = Path(data_dir).expanduser()
        path = path / "input.txt" if path.is_dir() else path
        if not path.is_file():
            raise MissingDataError(f"--dataset text: no text file at {path}")
        return _read(path), str(path)
    if dataset != "tinyshakespeare":
        raise ValueError(f"unknown text dataset {dataset!r}; expected one of "
                         f"{', '.join(TEXT_DATASETS)}")
    roots = [Path(data_dir).expanduser()] if data_dir else [data_home(), find_shared_data()]
    roots = [r for r in roots if r is not None]
    for root in roots:
        for path in (root / "tinyshakespeare" / "input.txt", root / "input.txt"):
            if path.is_file():
                verify_file(path, sha256=TinyShakespeare.sha256, who="TinyShakespeare")
                return _read(path), str(path)
    raise MissingDataError(
        f"Tiny Shakespeare not found: no tinyshakespeare/input.txt in "
        f"{' or '.join(str(r) for r in roots)}. Download {TinyShakespeare.url} into "
        f"{roots[0] / 'tinyshakespeare'} (or pass --data-dir), or use --dataset text "
        f"--data-dir FILE for another text")


def _read(path: Path) -> str:
    from ..data.datasets import CorruptDataError

    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptDataError(f"{path} is not UTF-8 text ({exc})") from exc


def split_ids(ids, fractions=SPLITS):
    """Contiguous train / val / test slices of a 1-D sequence (first 90%, next 5%, last 5%)."""
    n = len(ids)
    a = int(round(n * fractions[0]))
    b = a + int(round(n * fractions[1]))
    return ids[:a], ids[a:b], ids[b:]


class Windows(Dataset):
    """``(x, y)`` windows of ``seq_len`` ids, ``y`` = ``x`` shifted by one, starting every
    ``stride`` positions (1: every window; ``seq_len``: non-overlapping)."""

    def __init__(self, ids, seq_len: int, stride: int = 1):
        self.ids = numpy.asarray(ids, dtype=numpy.int64)
        self.seq_len, self.stride = int(seq_len), int(stride)
        if self.seq_len < 1 or self.stride < 1 or len(self.ids) < self.seq_len + 1:
            raise ValueError(f"Windows: need seq_len, stride >= 1 and at least seq_len + 1 = "
                             f"{self.seq_len + 1} ids, got {len(self.ids)} ids, seq_len "
                             f"{seq_len}, stride {stride}")
        self._window = numpy.arange(self.seq_len + 1)

    def __len__(self) -> int:
        return (len(self.ids) - self.seq_len - 1) // self.stride + 1

    def __getitem__(self, index):
        x, y = self.get_batch([index])
        return x[0], y[0]

    def get_batch(self, indices):
        indices = numpy.asarray(indices, dtype=numpy.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"Windows: index out of range for {len(self)} windows")
        chunks = self.ids[indices[:, None] * self.stride + self._window]
        return numpy.ascontiguousarray(chunks[:, :-1]), numpy.ascontiguousarray(chunks[:, 1:])


def lm_loss(logits, target):
    """Mean cross-entropy per token of logits (N, T, V) against ids (N, T), in nats."""
    from ..nn import functional as F

    if logits.ndim != 3 or tuple(target.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"lm_loss: expected logits (N, T, V) and targets (N, T), got "
                         f"{tuple(logits.shape)} and {tuple(target.shape)}")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def _eval_windows(ids, seq_len: int) -> Windows:
    """Non-overlapping windows; a split shorter than ``seq_len + 1`` gets one shorter window."""
    length = min(seq_len, len(ids) - 1)
    if length < 1:
        raise ValueError(f"language_model: a validation/test split has only {len(ids)} "
                         f"characters; the text is too short")
    return Windows(ids, length, stride=length)


def _add_once(parser, flag: str, **kwargs) -> None:
    """Add an option unless another task already registered the same flag."""
    if flag not in parser._option_string_actions:
        parser.add_argument(flag, **kwargs)


# ---- the task -----------------------------------------------------------------------------
@register_task
class LanguageModel(Task):
    name = "language_model"
    datasets = TEXT_DATASETS
    metrics = ("perplexity",)
    unit = "windows"

    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        from ..data.datasets import CharVocab

        s = run.settings
        text, source = load_text(s["dataset"], getattr(run.args, "data_dir", None))
        vocab = CharVocab(meta["vocab"] if meta and "vocab" in meta else text)
        try:
            ids = vocab.encode(text)
        except KeyError as exc:
            raise ValueError(f"language_model: the text has characters the checkpoint's "
                             f"vocabulary lacks ({exc})") from None
        seq_len = int(s.get("seq_len", 128))
        train, val, test = split_ids(ids)
        if len(train) < seq_len + 1:
            raise ValueError(f"language_model: the training split has {len(train)} "
                             f"characters, fewer than seq_len + 1 = {seq_len + 1}")
        return TaskData(
            s["dataset"], Windows(train, seq_len), _eval_windows(val, seq_len),
            _eval_windows(test, seq_len), source,
            meta={"vocab": "".join(vocab.itos), "seq_len": seq_len, "splits": list(SPLITS)},
            config={"vocab_size": len(vocab), "block_size": seq_len},
            extra={"vocab": vocab})

    def train(self, run: Run, model, data: TaskData, callbacks, meta: dict):
        from ..data import DataLoader, RandomSampler
        from ..train import fit

        s = run.settings
        per_epoch = min(int(s.get("windows_per_epoch", 8192)), len(data.train))
        loader = DataLoader(data.train, batch_size=s["batch_size"], seed=run.seed,
                            sampler=RandomSampler(data.train, num_samples=per_epoch))
        opt = run.optimizer(model.parameters())
        sched, interval = run.scheduler(opt, len(loader))
        history = fit(model, loader, lm_loss, opt, s["epochs"],
                      val_data=DataLoader(data.val, batch_size=64), scheduler=sched,
                      scheduler_interval=interval, metrics=self.metrics, callbacks=callbacks,
                      device=run.device, progress=not run.quiet,
                      resume=getattr(run.args, "resume", None), meta=meta,
                      clip_grad_norm=s.get("clip_grad_norm"))
        text = generate_text(model, data.meta["vocab"], PRIME, 500, SAMPLE_TEMPERATURE, run.seed)
        run.out.mkdir(parents=True, exist_ok=True)
        (run.out / "samples.txt").write_text(text + "\n", encoding="utf-8")
        return history

    def test(self, run: Run, model, data: TaskData) -> dict:
        from ..data import DataLoader
        from ..train import evaluate

        def loss(split):
            return evaluate(model, DataLoader(split, batch_size=64), lm_loss, metrics=(),
                            device=run.device)["loss"]

        test, val = loss(data.test), loss(data.val)
        sample = generate_text(model, data.meta["vocab"], PRIME, 200, SAMPLE_TEMPERATURE,
                               run.seed)
        return {"loss": test, "bits_per_char": test / math.log(2),
                "perplexity": math.exp(test), "val_loss": val,
                "val_bits_per_char": val / math.log(2), "sample_temperature": SAMPLE_TEMPERATURE,
                "sample": sample}

    def summary(self, results: dict) -> str:
        return (f"test loss {results['loss']:.4f} nats/char ({results['bits_per_char']:.3f} "
                f"bits/char, perplexity {results['perplexity']:.2f}), val loss "
                f"{results['val_loss']:.4f}")

    def details(self, results: dict) -> list[str]:
        return [f"sample at temperature {results['sample_temperature']}:",
                results["sample"]]

    def add_sample_arguments(self, parser) -> None:
        _add_once(parser, "--temperature", type=float, default=SAMPLE_TEMPERATURE,
                  help=f"sampling temperature; 0 is greedy (default {SAMPLE_TEMPERATURE})")
        _add_once(parser, "--prime", default=None,
                  help=f"text the language model continues (default {PRIME!r})")

    def sample(self, model, meta: dict, args) -> int:
        prime = args.prime if args.prime is not None else PRIME
        n = 500 if args.n is None else args.n
        if n < 0:
            raise ValueError(f"--n must be non-negative, got {n}")
        text = generate_text(model, meta["vocab"], prime, n, args.temperature, args.seed,
                             strict=True)
        print(text)
        out = Path(args.out) if args.out else Path(args.checkpoint).parent / "sample.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {out}")
        return 0


def generate_text(model, chars: str, prime: str, n: int, temperature: float, seed,
                  strict: bool = False) -> str:
    """``prime`` followed by ``n`` characters drawn from ``model.generate``. A prime with
    characters outside the vocabulary is an error with ``strict``, else replaced by a newline
    (or the vocabulary's first character)."""
    from ..data.datasets import CharVocab

    vocab = CharVocab(chars)
    unknown = sorted({c for c in prime if c not in vocab.stoi})
    if strict and (unknown or not prime):
        raise ValueError(f"--prime must be non-empty text in the model's vocabulary; "
                         f"{'it is empty' if not prime else f'unknown characters {unknown}'} "
                         f"(the vocabulary: {chars!r})")
    if unknown or not prime:
        prime = "\n" if "\n" in vocab.stoi else vocab.itos[0]
    ids = model.generate(vocab.encode(prime).tolist(), n, temperature=temperature, seed=seed)
    return prime + vocab.decode(ids)
