"""Word vectors by skip-gram with negative sampling (the ``word2vec`` model) on Tiny Shakespeare.

Words: lower-cased runs of letters (with inner apostrophes: "o'er", "'tis" -> "tis"); the
token stream is split contiguously like the characters of the language models (90 / 5 / 5%).
The vocabulary holds the training words seen at least ``min_count`` times, most frequent
first; other words are dropped from the stream, as in word2vec. Frequent words are
subsampled (kept with probability sqrt(t/f) + t/f, ``subsample`` = t, as the original C
code; 0 turns it off). Each kept word is paired with the words up to b positions away, b
drawn uniformly from 1..``window`` per word (word2vec's dynamic window). Pairs are drawn
once per run (seeded); an epoch is one pass over them in a new order, and every batch draws
fresh noise words (``negatives`` per pair) from the unigram distribution raised to 0.75.
Validation/test pairs use the full window and noise words fixed by the seed, so their loss
is comparable across epochs and runs.

Results: the test loss (nats per pair: the true context and its noise words summed) and the
nearest neighbours by cosine similarity of a few words (king, love, death, lord, night),
printed by ``nerve train``/``nerve evaluate`` and stored in metrics.json.

>>> tokenize_words("O Romeo, Romeo! wherefore art thou Romeo? 'Tis o'er.")
['o', 'romeo', 'romeo', 'wherefore', 'art', 'thou', 'romeo', 'tis', "o'er"]
"""
from __future__ import annotations

import re
from collections import Counter

import numpy

from ..data.dataset import Dataset
from .base import Run, Task, TaskData, register_task
from .language import TEXT_DATASETS, load_text, split_ids

__all__ = ["QUERY_WORDS", "SkipGram", "WordVocab", "Word2VecTask", "keep_probabilities",
           "nearest_neighbours", "skipgram_pairs", "tokenize_words"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
QUERY_WORDS = ("king", "love", "death", "lord", "night")


def tokenize_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class WordVocab:
    """Words seen ``min_count`` times or more, most frequent first (ties alphabetical), with
    their counts; or rebuilt from a checkpoint's ``itos`` and ``counts``."""

    def __init__(self, tokens=(), min_count: int = 5, itos=None, counts=None):
        if itos is None:
            freq = Counter(tokens)
            kept = sorted((w for w, c in freq.items() if c >= min_count),
                          key=lambda w: (-freq[w], w))
            itos, counts = kept, [freq[w] for w in kept]
        if not itos:
            raise ValueError(f"WordVocab: no word occurs min_count={min_count} times or more")
        self.itos = list(itos)
        self.counts = numpy.asarray(counts, dtype=numpy.float64)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens) -> numpy.ndarray:
        """The ids of the tokens in the vocabulary (the others are dropped)."""
        return numpy.array([self.stoi[t] for t in tokens if t in self.stoi], dtype=numpy.int64)

    def noise(self, power: float = 0.75) -> numpy.ndarray:
        """The noise distribution: unigram counts ** power, normalized."""
        p = self.counts ** power
        return p / p.sum()


def keep_probabilities(counts, t: float) -> numpy.ndarray:
    """word2vec's subsampling: keep a word of frequency f with probability sqrt(t/f) + t/f."""
    f = numpy.asarray(counts, dtype=numpy.float64)
    f = f / f.sum()
    return numpy.minimum(1.0, numpy.sqrt(t / f) + t / f)


def skipgram_pairs(ids, window: int, rng=None, keep=None):
    """``(centers, contexts)``: every (word, neighbour) pair within the window. With ``rng``,
    words are first subsampled by ``keep`` (per-id probabilities) and each center's window
    is b ~ U{1..window} (word2vec's dynamic window); without, the full window."""
    ids = numpy.asarray(ids, dtype=numpy.int64)
    if rng is not None and keep is not None:
        ids = ids[rng.random(len(ids)) < keep[ids]]
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n) if rng is not None else numpy.full(n, window)
    centers, contexts = [], []
    for offset in range(1, window + 1):
        left = numpy.arange(n - offset)  # pairs (i, i + offset) and (i + offset, i)
        for c, o in ((left, left + offset), (left + offset, left)):
            sel = reach[c] >= offset
            centers.append(ids[c[sel]])
            contexts.append(ids[o[sel]])
    return numpy.concatenate(centers), numpy.concatenate(contexts)


class SkipGram(Dataset):
    """``(center, candidates, labels)`` samples: candidates = [true context, K noise words],
    labels = [1, 0, ..., 0]. Noise words are drawn per batch from ``noise`` with the data
    loader's generator, or fixed once by ``seed``."""

    def __init__(self, centers, contexts, noise, negatives: int = 5, seed: int | None = None):
        self.centers = numpy.asarray(centers, dtype=numpy.int64)
        self.contexts = numpy.asarray(contexts, dtype=numpy.int64)
        if len(self.centers) == 0 or len(self.centers) != len(self.contexts):
            raise ValueError(f"SkipGram: need as many centers as contexts (and some), got "
                             f"{len(self.centers)} and {len(self.contexts)}")
        self.cdf = numpy.cumsum(noise)
        self.negatives = int(negatives)
        self.fixed = None if seed is None else self._draw(numpy.random.default_rng(seed),
                                                          len(self.centers))

    def _draw(self, rng, n: int) -> numpy.ndarray:
        u = rng.random((n, self.negatives)) * self.cdf[-1]
        return numpy.minimum(numpy.searchsorted(self.cdf, u), len(self.cdf) - 1)

    def __len__(self) -> int:
        return len(self.centers)

    def __getitem__(self, index):
        return tuple(a[0] for a in self.get_batch([index]))

    def get_batch(self, indices):
        from ..data import _rng

        idx = numpy.asarray(indices, dtype=numpy.int64)
        neg = self.fixed[idx] if self.fixed is not None else self._draw(_rng.current(), len(idx))
        candidates = numpy.concatenate([self.contexts[idx, None], neg], axis=1)
        labels = numpy.zeros(candidates.shape, dtype=numpy.float32)
        labels[:, 0] = 1.0
        return self.centers[idx], candidates, labels


def nearest_neighbours(vectors, vocab: WordVocab, words, k: int = 5) -> dict:
    """``{word: [[neighbour, cosine], ...]}`` (the ``k`` most similar other words) for each
    word of ``words`` in the vocabulary."""
    v = numpy.asarray(vectors, dtype=numpy.float64)
    unit = v / numpy.maximum(numpy.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    out = {}
    for word in words:
        if word not in vocab.stoi:
            continue
        i = vocab.stoi[word]
        sims = unit @ unit[i]
        sims[i] = -numpy.inf
        best = numpy.argsort(-sims, kind="stable")[:k]
        out[word] = [[vocab.itos[j], round(float(sims[j]), 4)] for j in best]
    return out


@register_task
class Word2VecTask(Task):
    name = "word2vec"
    datasets = TEXT_DATASETS
    metrics = ()
    unit = "pairs"

    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        s = run.settings
        text, source = load_text(s["dataset"], getattr(run.args, "data_dir", None))
        train, val, test = split_ids(tokenize_words(text))
        if meta and "vocab" in meta:
            vocab = WordVocab(itos=meta["vocab"], counts=meta["counts"])
        else:
            vocab = WordVocab(train, int(s.get("min_count", 5)))
        window, k = int(s.get("window", 5)), int(s.get("negatives", 5))
        t = float(s.get("subsample", 0.0) or 0.0)
        keep = keep_probabilities(vocab.counts, t) if t > 0 else None
        noise = vocab.noise()
        rng = numpy.random.default_rng(run.seed)

        def held_out(tokens, offset):
            pairs = skipgram_pairs(vocab.encode(tokens), window)
            return SkipGram(*pairs, noise, k, seed=run.seed + offset)

        return TaskData(
            s["dataset"], SkipGram(*skipgram_pairs(vocab.encode(train), window, rng, keep),
                                   noise, k),
            held_out(val, 1), held_out(test, 2), source,
            meta={"vocab": vocab.itos, "counts": vocab.counts.astype(int).tolist(),
                  "query_words": list(QUERY_WORDS)},
            config={"vocab_size": len(vocab)},
            notes=[f"word2vec: {len(train):,} training words, vocabulary {len(vocab):,} "
                   f"(min count {s.get('min_count', 5)})"],
            extra={"vocab": vocab})

    def loss(self, run: Run, data: TaskData):
        from ..models.word2vec import sgns_loss

        return sgns_loss

    def train(self, run: Run, model, data: TaskData, callbacks, meta: dict):
        history = super().train(run, model, data, callbacks, meta)
        words = data.meta.get("query_words", QUERY_WORDS)
        found = nearest_neighbours(model.vectors(), data.extra["vocab"], words)
        run.say(*self.details({"neighbours": found}))
        return history

    def test(self, run: Run, model, data: TaskData) -> dict:
        from ..models.word2vec import sgns_loss
        from ..train import evaluate

        loss = evaluate(model, data.test, sgns_loss, metrics=(), batch_size=4096,
                        device=run.device)["loss"]
        words = data.meta.get("query_words", QUERY_WORDS)
        return {"loss": loss, "negatives": data.test.negatives,
                "neighbours": nearest_neighbours(model.vectors(), data.extra["vocab"], words)}

    def summary(self, results: dict) -> str:
        return (f"test loss {results['loss']:.4f} nats per pair (true context + "
                f"{results['negatives']} noise words)")

    def details(self, results: dict) -> list[str]:
        return ["nearest neighbours (cosine):"] + [
            f"  {w:>8}: " + ", ".join(f"{n} {s:.2f}" for n, s in nb)
            for w, nb in results["neighbours"].items()]
