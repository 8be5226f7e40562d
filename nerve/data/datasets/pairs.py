"""Sentence pairs for translation (Tatoeba / ManyThings ``fra.txt``-style files).

Each line is ``source<TAB>target[<TAB>attribution]``. ``tokenize`` lowercases, turns the
narrow and non-breaking spaces of French typography (U+202F, U+00A0) into spaces and splits
punctuation from words. ``SentencePairs`` filters by length, splits train/val/test
deterministically (by distinct source sentence, so one English sentence's several
translations never straddle train and test) and builds a ``Vocab`` per language from the
training split.

>>> tokenize("Va-t'en\\u202f! C’est l'été.")
['va', '-', 't', "'", 'en', '!', 'c', "'", 'est', 'l', "'", 'été', '.']
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy

from ...autograd.tensor import Tensor
from ..dataset import Dataset, _check_index, _split_lengths
from .download import CorruptDataError, missing_error, resolve_root
from .text import _read_text, pad_sequence

_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2009": " ", "\u2019": "'",
                         "\u2018": "'"})
_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lowercased words and punctuation marks of ``text``."""
    return _TOKEN.findall(unicodedata.normalize("NFC", text).translate(_SPACES).lower())


class Vocab:
    """Tokens <-> ids, with ``<pad>`` = 0, ``<sos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3 first.

    >>> v = Vocab.build([["a", "b", "a"], ["c"]], min_freq=2)
    >>> v.itos, v.encode(["a", "c"], eos=True)
    (['<pad>', '<sos>', '<eos>', '<unk>', 'a'], [4, 3, 2])
    """

    SPECIALS = ("<pad>", "<sos>", "<eos>", "<unk>")
    pad_index, sos_index, eos_index, unk_index = 0, 1, 2, 3

    def __init__(self, itos):
        itos = list(itos)
        if tuple(itos[:4]) != self.SPECIALS or len(set(itos)) != len(itos):
            raise ValueError(f"Vocab: the token list must start with {self.SPECIALS} and hold no "
                             f"duplicates")
        self.itos = itos
        self.stoi = {t: i for i, t in enumerate(itos)}

    @classmethod
    def build(cls, token_lists, min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Tokens seen at least ``min_freq`` times, most frequent first (ties alphabetical)."""
        counts = Counter(t for tokens in token_lists for t in tokens)
        for s in cls.SPECIALS:
            counts.pop(s, None)
        kept = sorted((t for t, c in counts.items() if c >= min_freq),
                      key=lambda t: (-counts[t], t))
        return cls(list(cls.SPECIALS) + kept[:max_size])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, self.unk_index)

    def encode(self, tokens, sos: bool = False, eos: bool = False) -> list[int]:
        ids = [self.stoi.get(t, self.unk_index) for t in tokens]
        return ([self.sos_index] if sos else []) + ids + ([self.eos_index] if eos else [])

    def decode(self, ids, stop_at_eos: bool = True, skip_specials: bool = True) -> list[str]:
        if isinstance(ids, Tensor):
            ids = ids.numpy(force=True)
        out = []
        for i in numpy.asarray(ids).reshape(-1).tolist():
            if i == self.eos_index and stop_at_eos:
                break
            if skip_specials and i in (self.pad_index, self.sos_index, self.eos_index):
                continue
            out.append(self.itos[i])
        return out

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens)"


def _read_pairs(path: Path, who: str):
    pairs = []
    for lineno, line in enumerate(_read_text(path, who).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise CorruptDataError(f"{who}: {path}:{lineno} is not 'source<TAB>target': "
                                   f"{line[:80]!r}")
        pairs.append((fields[0].strip(), fields[1].strip()))
    return pairs


@functools.lru_cache(maxsize=2)
def _tokenized(path: str, size: int, mtime_ns: int):
    """Tokenized pairs of a file, cached so train/val/test built in turn tokenize it once."""
    return tuple((tokenize(a), tokenize(b)) for a, b in _read_pairs(Path(path), "SentencePairs"))


def collate_pairs(batch, pad_index: int = Vocab.pad_index):
    """``[(src_ids, tgt_ids), ...]`` -> ``(src, src_lengths, tgt, tgt_lengths)`` Tensors,
    padded batch-first with ``pad_index``."""
    src, tgt = zip(*batch)
    lengths = [numpy.array([len(s) for s in side], dtype=numpy.int64) for side in (src, tgt)]
    return (Tensor(pad_sequence(src, True, pad_index)), Tensor(lengths[0]),
            Tensor(pad_sequence(tgt, True, pad_index)), Tensor(lengths[1]))


class SentencePairs(Dataset):
    """Tokenized sentence pairs; sample i is ``(src_ids, tgt_ids)`` int64 arrays.

    ``src_ids`` ends with ``<eos>``; ``tgt_ids`` is ``<sos> ... <eos>``. Give ``path`` or a
    ``root`` holding ``tatoeba-{lang}-eng/{lang}.txt``, ``{lang}-eng/{lang}.txt`` or
    ``{lang}.txt``. The file's first column (English) is the source unless ``reverse``.
    ``max_len`` drops pairs with more tokens on either side; ``filter_fn(src_tokens,
    tgt_tokens)`` can drop more. ``splits`` are the train/val/test fractions of distinct
    source sentences, drawn with ``seed``. Use ``collate_fn=SentencePairs.collate`` (or
    ``collate_pairs``) in a ``DataLoader``.
    """

    collate = staticmethod(collate_pairs)

    def __init__(self, path=None, root=None, split: str = "train", lang: str = "fra",
                 reverse: bool = False, max_len: int | None = None, min_freq: int = 1,
                 splits=(0.8, 0.1, 0.1), seed: int = 0, src_vocab: Vocab | None = None,
                 tgt_vocab: Vocab | None = None, filter_fn=None, download: bool = False):
        if split not in ("train", "val", "test", "all"):
            raise ValueError(f"SentencePairs: split must be train, val, test or all, got "
                             f"{split!r}")
        self.path = Path(path) if path is not None else self._locate(resolve_root(root), lang)
        if not self.path.is_file():
            raise missing_error("SentencePairs", [self.path.name], self.path.parent)
        st = self.path.stat()
        pairs = list(_tokenized(str(self.path.resolve()), st.st_size, st.st_mtime_ns))
        if reverse:
            pairs = [(b, a) for a, b in pairs]
        if max_len is not None:
            pairs = [(a, b) for a, b in pairs if len(a) <= max_len and len(b) <= max_len]
        if filter_fn is not None:
            pairs = [(a, b) for a, b in pairs if filter_fn(a, b)]
        if not pairs:
            raise ValueError(f"SentencePairs: no pairs left in {self.path} after filtering")
        parts = self._split(pairs, splits, seed)
        self.pairs = pairs if split == "all" else parts[("train", "val", "test").index(split)]
        train = parts[0]
        self.src_vocab = src_vocab or Vocab.build((a for a, _ in train), min_freq)
        self.tgt_vocab = tgt_vocab or Vocab.build((b for _, b in train), min_freq)
        self._encoded = [(numpy.array(self.src_vocab.encode(a, eos=True), dtype=numpy.int64),
                          numpy.array(self.tgt_vocab.encode(b, sos=True, eos=True),
                                      dtype=numpy.int64)) for a, b in self.pairs]
        self.split = split

    @staticmethod
    def _locate(root: Path, lang: str) -> Path:
        candidates = [root / f"tatoeba-{lang}-eng" / f"{lang}.txt",
                      root / f"{lang}-eng" / f"{lang}.txt", root / f"{lang}.txt"]
        for path in candidates:
            if path.is_file():
                return path
        raise missing_error("SentencePairs", [f"{lang}.txt"], candidates[0].parent,
                            [c.parent for c in candidates[1:]],
                            note=f"Get {lang}-eng.zip from https://www.manythings.org/anki/ "
                                 f"(Tatoeba sentence pairs) and unpack {lang}.txt there; it "
                                 f"has no fixed checksum, so it is not downloaded for you.")

    @staticmethod
    def _split(pairs, splits, seed):
        sources = list(dict.fromkeys(" ".join(a) for a, _ in pairs))
        counts = _split_lengths(len(sources), [float(f) for f in splits])
        order = numpy.random.default_rng(seed).permutation(len(sources))
        part_of = numpy.empty(len(sources), dtype=numpy.int64)
        start = 0
        for k, count in enumerate(counts):
            part_of[order[start:start + count]] = k
            start += count
        index = {s: i for i, s in enumerate(sources)}
        parts = [[] for _ in counts] + [[], []]  # always train, val, test
        for a, b in pairs:
            parts[part_of[index[" ".join(a)]]].append((a, b))
        return parts[:3]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index):
        return self._encoded[_check_index(index, len(self), "SentencePairs")]

    def sentence(self, index) -> tuple[str, str]:
        """The i-th pair as tokenized text."""
        a, b = self.pairs[_check_index(index, len(self), "SentencePairs")]
        return " ".join(a), " ".join(b)

    def __repr__(self) -> str:
        return (f"SentencePairs({self.split}, {len(self)} pairs, src vocab {len(self.src_vocab)}, "
                f"tgt vocab {len(self.tgt_vocab)}, from {self.path})")
