"""Character corpora for language models (Tiny Shakespeare and any text file).

A ``CharCorpus`` encodes its text with a ``CharVocab`` and serves windows of ``seq_len``
characters: sample i is ``(x, y)`` with ``y`` the text shifted by one (next-character targets).
The first ``1 - val_fraction`` of the text is the training split, the rest validation; the
vocabulary covers the whole text, so both splits share it.

>>> corpus = CharCorpus("hello world, hello nerve", seq_len=4, split="all")
>>> x, y = corpus[0]
>>> corpus.decode(x), corpus.decode(y)
('hell', 'ello')
"""
from __future__ import annotations

from pathlib import Path

import numpy

from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ..dataset import Dataset, _check_index
from .download import CorruptDataError, download_url, missing_error, resolve_root, verify_file


class CharVocab:
    """The characters of a text, sorted: ``stoi`` (char -> id) and ``itos`` (id -> char)."""

    def __init__(self, chars):
        self.itos = sorted(set(chars))
        if not self.itos:
            raise ValueError("CharVocab: the text is empty")
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        self._codes = numpy.array([ord(c) for c in self.itos], dtype=numpy.int64)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> numpy.ndarray:
        """``text`` as an int64 array of ids (vectorized; 1 M characters in milliseconds)."""
        codes = numpy.frombuffer(text.encode("utf-32-le"), dtype=numpy.uint32).astype(
            numpy.int64)
        ids = numpy.searchsorted(self._codes, codes)
        bad = (ids >= len(self._codes)) | (self._codes[numpy.minimum(ids, len(self) - 1)]
                                           != codes)
        if bad.any():
            unknown = sorted({chr(c) for c in codes[bad]})
            raise KeyError(f"CharVocab.encode: characters not in the vocabulary: {unknown}")
        return ids

    def decode(self, ids) -> str:
        if isinstance(ids, Tensor):
            ids = ids.numpy(force=True)
        return "".join(self.itos[int(i)] for i in numpy.asarray(ids).reshape(-1))

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"


def _read_text(path: Path, who: str, encoding: str = "utf-8") -> str:
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CorruptDataError(f"{who}: {path} is not valid {encoding} text (bad byte at "
                               f"offset {exc.start}); it is corrupt or in another "
                               f"encoding") from exc


class CharCorpus(Dataset):
    """Windows of ``seq_len`` characters of ``text`` as ``(x, y)`` int64 arrays.

    ``split``: "train", "val" or "all"; ``stride``: distance between window starts (default
    ``seq_len``: non-overlapping windows; 1 gives every window).
    """

    def __init__(self, text: str, seq_len: int = 128, split: str = "train",
                 val_fraction: float = 0.1, vocab: CharVocab | None = None,
                 stride: int | None = None):
        if split not in ("train", "val", "all"):
            raise ValueError(f"CharCorpus: split must be 'train', 'val' or 'all', got {split!r}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"CharCorpus: val_fraction must lie in [0, 1), got {val_fraction}")
        if seq_len <= 0 or (stride is not None and stride <= 0):
            raise ValueError("CharCorpus: seq_len and stride must be positive")
        self.vocab = vocab if vocab is not None else CharVocab(text)
        ids = self.vocab.encode(text)
        n_train = int(len(ids) * (1.0 - val_fraction))
        self.ids = {"train": ids[:n_train], "val": ids[n_train:], "all": ids}[split]
        self.split, self.seq_len = split, int(seq_len)
        self.stride = int(stride) if stride is not None else self.seq_len
        if len(self.ids) < self.seq_len + 1:
            raise ValueError(f"CharCorpus: the {split} split has {len(self.ids)} characters, "
                             f"fewer than seq_len + 1 = {self.seq_len + 1}")
        self._window = numpy.arange(self.seq_len + 1)

    def __len__(self) -> int:
        return (len(self.ids) - self.seq_len - 1) // self.stride + 1

    def __getitem__(self, index):
        start = _check_index(index, len(self), type(self).__name__) * self.stride
        chunk = self.ids[start:start + self.seq_len + 1]
        return chunk[:-1], chunk[1:]

    def get_batch(self, indices):
        starts = numpy.asarray(indices, dtype=numpy.int64) * self.stride
        chunks = self.ids[starts[:, None] + self._window]
        return numpy.ascontiguousarray(chunks[:, :-1]), numpy.ascontiguousarray(chunks[:, 1:])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> numpy.ndarray:
        return self.vocab.encode(text)

    def decode(self, ids) -> str:
        return self.vocab.decode(ids)


class TextFile(CharCorpus):
    """A ``CharCorpus`` read from a UTF-8 text file (``sha256=`` checks it first)."""

    def __init__(self, path, seq_len: int = 128, split: str = "train",
                 val_fraction: float = 0.1, vocab: CharVocab | None = None,
                 stride: int | None = None, sha256: str | None = None,
                 encoding: str = "utf-8"):
        self.path = Path(path)
        who = type(self).__name__
        if not self.path.is_file():
            raise missing_error(who, [self.path.name], self.path.parent)
        if sha256 is not None:
            verify_file(self.path, sha256=sha256, who=who)
        super().__init__(_read_text(self.path, who, encoding), seq_len, split, val_fraction,
                         vocab, stride)


class TinyShakespeare(TextFile):
    """Karpathy's Tiny Shakespeare (1,115,394 characters, 65 distinct), sha256-checked.

    Looks for ``root/tinyshakespeare/input.txt`` (then ``root/input.txt``); ``download=True``
    fetches it from the char-rnn repository.
    """

    url = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
           "input.txt")
    sha256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

    def __init__(self, root=None, seq_len: int = 128, split: str = "train",
                 val_fraction: float = 0.1, stride: int | None = None, download: bool = False,
                 verify: bool = True):
        root = resolve_root(root)
        candidates = [root / "tinyshakespeare" / "input.txt", root / "input.txt"]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            if not download:
                raise missing_error("TinyShakespeare", ["input.txt"], candidates[0].parent,
                                    [root], [self.url])
            path = download_url(self.url, candidates[0], sha256=self.sha256,
                                who="TinyShakespeare")
        super().__init__(path, seq_len, split, val_fraction, None, stride,
                         self.sha256 if verify else None)


def pad_sequence(sequences, batch_first: bool = False, padding_value=0):
    """Stack sequences of different lengths (L_i, *) into (B, L_max, *) (``batch_first``) or
    (L_max, B, *), filling with ``padding_value``; Tensors in give a Tensor out.

    >>> pad_sequence([numpy.array([1, 2, 3]), numpy.array([4])], batch_first=True).tolist()
    [[1, 2, 3], [4, 0, 0]]
    """
    if not len(sequences):
        raise ValueError("pad_sequence: expected at least one sequence")
    wrap = isinstance(sequences[0], Tensor)
    xp = get_array_module(sequences[0])
    arrays = [s.data if isinstance(s, Tensor) else xp.asarray(s) for s in sequences]
    tails = {a.shape[1:] for a in arrays}
    if len(tails) > 1 or arrays[0].ndim == 0:
        raise ValueError(f"pad_sequence: sequences must share their trailing dimensions, got "
                         f"shapes {[a.shape for a in arrays]}")
    longest = max(len(a) for a in arrays)
    out = xp.full((len(arrays), longest) + arrays[0].shape[1:], padding_value,
                  dtype=xp.result_type(*arrays))
    for i, a in enumerate(arrays):
        out[i, :len(a)] = a
    if not batch_first:
        out = xp.ascontiguousarray(xp.swapaxes(out, 0, 1))
    return Tensor(out) if wrap else out
