"""Translation (seq2seq): English -> French Tatoeba pairs, token cross-entropy with teacher
forcing, BLEU of greedy and beam-search translations on a held-out test split.

The split is by distinct English sentence (``SentencePairs``), so no source sentence of the
test split was seen in training; a source's several test translations are its references
(multi-reference BLEU). BLEU is sacrebleu's (an optional dependency: ``pip install
sacrebleu``; without it BLEU is skipped with a note), on lowercased, detokenized text.

>>> detokenize(["c", "'", "est", "l", "'", "été", "."])
"c'est l'été."
"""
from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import numpy

from .base import Run, Task, TaskData, register_task

__all__ = ["Translate", "detokenize", "bleu", "collate_translation"]

_APOSTROPHE = re.compile(r" ?' ?")
_HYPHEN = re.compile(r" ?- ?")
_BEFORE = re.compile(r" ([.,)])")


def detokenize(tokens) -> str:
    """Words and punctuation from ``tokenize`` back to text (French spacing before ! ? : ;)."""
    text = _HYPHEN.sub("-", _APOSTROPHE.sub("'", " ".join(tokens)))
    return _BEFORE.sub(r"\1", text).replace("( ", "(")


def bleu(hypotheses, references):
    """Corpus BLEU (sacrebleu, 13a tokenization) of hypothesis strings against a list of
    reference strings per hypothesis (any number each); None when sacrebleu is missing."""
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:
        return None
    width = max(len(r) for r in references)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(width)]
    return float(BLEU().corpus_score(list(hypotheses), streams).score)


def collate_translation(batch):
    """``[(src_ids, tgt_ids), ...]`` -> ``(src, src_lengths, tgt_in, tgt_out)``: the decoder
    reads ``<sos> y1 .. yn`` and predicts ``y1 .. yn <eos>`` (teacher forcing)."""
    from ..data.datasets import collate_pairs

    src, src_lengths, tgt, _ = collate_pairs(batch)
    return src, src_lengths, tgt[:, :-1], tgt[:, 1:]


class TokenCrossEntropy:
    """Mean cross-entropy per real target token of logits (N, T, V); ``<pad>`` ignored."""

    def __call__(self, logits, target):
        from ..data.datasets import Vocab
        from ..nn import functional as F

        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                               ignore_index=Vocab.pad_index)


@register_task
class Translate(Task):
    name = "translate"
    datasets = ("tatoeba-fra-eng",)
    metrics = ("perplexity",)
    unit = "sentence pairs"

    # ---- data -----------------------------------------------------------------------------
    @staticmethod
    def locate(data_dir=None):
        """The ``fra.txt`` file: under ``--data-dir`` if given, else under ``$NERVE_DATA`` (or
        ``~/.cache/nerve``) or the shared data beside the repository."""
        from ..data.datasets import MissingDataError, SentencePairs, data_home, find_shared_data

        roots = [data_dir] if data_dir else [data_home(), find_shared_data()]
        roots = [r for r in roots if r is not None]
        for root in roots:
            try:
                return SentencePairs._locate(Path(root).expanduser(), "fra")
            except MissingDataError:
                continue
        raise MissingDataError(
            "translate: no English-French pairs found: looked for tatoeba-fra-eng/fra.txt, "
            "fra-eng/fra.txt or fra.txt under " + ", ".join(str(r) for r in roots)
            + ". Get fra-eng.zip from https://www.manythings.org/anki/ (Tatoeba pairs), unpack "
            "fra.txt into one of them, or pass --data-dir.")

    def load(self, run: Run, meta: dict | None = None) -> TaskData:
        from ..data.datasets import SentencePairs, Vocab

        s = run.settings
        path = self.locate(getattr(run.args, "data_dir", None))
        kwargs = {"path": path, "min_freq": int(s.get("min_freq", 2)),
                  "splits": tuple(s.get("splits", (0.9, 0.05, 0.05))),
                  "seed": int(s.get("split_seed", 0))}
        if meta and meta.get("src_vocab"):
            kwargs.update(src_vocab=Vocab(meta["src_vocab"]), tgt_vocab=Vocab(meta["tgt_vocab"]))
        train = SentencePairs(split="train", **kwargs)
        kwargs.update(src_vocab=train.src_vocab, tgt_vocab=train.tgt_vocab)
        val, test = (SentencePairs(split=split, **kwargs) for split in ("val", "test"))
        return TaskData(
            "tatoeba-fra-eng", train, val, test, str(path),
            meta={"src_vocab": train.src_vocab.itos, "tgt_vocab": train.tgt_vocab.itos,
                  "languages": ["en", "fr"]},
            config={"src_vocab_size": len(train.src_vocab),
                    "tgt_vocab_size": len(train.tgt_vocab)},
            notes=[f"vocabularies (training split, words seen at least {kwargs['min_freq']} "
                   f"times): {len(train.src_vocab):,} English, {len(train.tgt_vocab):,} French"],
            extra={"vocabs": (train.src_vocab, train.tgt_vocab)})

    # ---- training -------------------------------------------------------------------------
    def loss(self, run: Run, data: TaskData):
        return TokenCrossEntropy()

    def collate(self, run: Run, data: TaskData):
        return collate_translation

    # ---- results --------------------------------------------------------------------------
    def test(self, run: Run, model, data: TaskData) -> dict:
        from ..train import evaluate

        loader = run.loader(data.test, shuffle=False, batch_size=256,
                            collate_fn=collate_translation)
        scores = evaluate(model, loader, TokenCrossEntropy(), self.metrics, device=run.device)
        width = int(run.settings.get("beam_width", 5))
        report = translate_test(model, data.test, width,
                                float(run.settings.get("length_penalty", 1.0)), run.device)
        rows = report.pop("rows")
        results = {"loss": scores["loss"], "perplexity": scores["perplexity"], **report}
        if results.get("bleu_greedy") is None:
            run.say("note: sacrebleu is not installed (pip install sacrebleu), so BLEU is "
                    "skipped; exact-match rates are reported instead")
        training = hasattr(run.args, "out")  # nerve train (evaluate prints details itself)
        if training and not data.extra.get("translations_written"):  # final model, not best
            run.say(*self.details(results))
            out = run.out
            out.mkdir(parents=True, exist_ok=True)
            text = translations_text(results, rows)
            (out / "translations.txt").write_text(text, encoding="utf-8")
            data.extra["translations_written"] = True
        return results

    def summary(self, results: dict) -> str:
        k = results.get("beam_width")
        if results.get("bleu_greedy") is None:
            head = (f"exact match greedy {100 * results['exact_greedy']:.1f}%, beam({k}) "
                    f"{100 * results['exact_beam']:.1f}% (no sacrebleu: no BLEU)")
        else:
            head = f"BLEU greedy {results['bleu_greedy']:.2f}, beam({k}) {results['bleu_beam']:.2f}"
        return f"test {head}; loss {results['loss']:.4f} nats/token"

    def details(self, results: dict) -> list[str]:
        lines = [f"{results['sentences']:,} distinct test sources, {results['references']:,} "
                 f"references; exact match: greedy {100 * results['exact_greedy']:.1f}%, "
                 f"beam {100 * results['exact_beam']:.1f}%"]
        for label in ("right", "wrong"):
            lines.append(f"examples translated {label} (beam search):")
            for ex in results["examples"][label]:
                refs = " | ".join(ex["references"][:3])
                lines.append(f"  {ex['source']}  ->  {ex['beam']}   [ref: {refs}]")
        return lines

    def plots(self, run: Run, model, data: TaskData, history, results: dict) -> list[str]:
        written = super().plots(run, model, data, history, results)
        if getattr(model, "attention", "none") != "none":
            plot_alignments(model, data.test, run.out / "attention.png", run.device)
            written.append("attention.png")
        return written

    # ---- nerve sample: translate sentences ------------------------------------------------
    def add_sample_arguments(self, parser) -> None:
        taken = getattr(parser, "_option_string_actions", {})
        if "--text" not in taken:
            parser.add_argument("--text", action="append", metavar="SENTENCE",
                                help="translate: an English sentence (repeatable)")
        if "--beam-width" not in taken:
            parser.add_argument("--beam-width", type=int, default=None,
                                help="translate: beam width (default: the training run's)")

    def sample(self, model, meta: dict, args) -> int:
        from ..data.datasets import Vocab, tokenize
        from ..ops.creation import tensor

        texts = getattr(args, "text", None) or ["I am cold.", "He is tall.", "We are happy."]
        src_vocab, tgt_vocab = Vocab(meta["src_vocab"]), Vocab(meta["tgt_vocab"])
        width = getattr(args, "beam_width", None) or int((meta.get("train") or {}).get(
            "beam_width", 5))
        device = model.out.weight.device
        for text in texts:
            tokens = tokenize(text)
            unknown = [t for t in tokens if t not in src_vocab]
            ids = src_vocab.encode(tokens, eos=True)
            src, lengths = tensor([ids], device=device), tensor([len(ids)], device=device)
            greedy = detokenize(tgt_vocab.decode(model.greedy(src, lengths)[0]))
            beam = detokenize(tgt_vocab.decode(model.beam_search(src, lengths, width)[0]))
            print(f"{text}\n  greedy:    {greedy}\n  beam({width}):   {beam}"
                  + (f"\n  (unknown words: {', '.join(unknown)})" if unknown else ""))
        return 0


def translate_test(model, test, beam_width: int, length_penalty: float, device,
                   batch_size: int = 256, examples: int = 8) -> dict:
    """Greedy and beam translations of each distinct source of ``test`` (a SentencePairs),
    BLEU against all its references, exact-match rates and examples right and wrong."""
    from ..data.datasets import collate_pairs

    groups: OrderedDict = OrderedDict()  # source text -> (source ids, [reference tokens])
    for i, (a, b) in enumerate(test.pairs):
        groups.setdefault(" ".join(a), (test[i][0], []))[1].append(b)
    sources = list(groups)
    order = sorted(range(len(sources)), key=lambda i: len(groups[sources[i]][0]))
    greedy, beam = [None] * len(sources), [None] * len(sources)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        src, lengths, _, _ = collate_pairs([(groups[sources[i]][0], [0]) for i in idx])
        src, lengths = src.to(device), lengths.to(device)
        for i, out in zip(idx, model.greedy(src, lengths)):
            greedy[i] = out
        for i, out in zip(idx, model.beam_search(src, lengths, beam_width,
                                                 length_penalty=length_penalty)):
            beam[i] = out
    vocab = test.tgt_vocab
    refs = [[detokenize(r) for r in groups[s][1]] for s in sources]
    hyp_g = [detokenize(vocab.decode(t)) for t in greedy]
    hyp_b = [detokenize(vocab.decode(t)) for t in beam]
    right_g = [h in r for h, r in zip(hyp_g, refs)]
    right_b = [h in r for h, r in zip(hyp_b, refs)]
    rows = [{"source": detokenize(s.split()), "greedy": g, "beam": b, "references": r}
            for s, g, b, r in zip(sources, hyp_g, hyp_b, refs)]
    return {"bleu_greedy": bleu(hyp_g, refs), "bleu_beam": bleu(hyp_b, refs),
            "beam_width": beam_width, "length_penalty": length_penalty,
            "sentences": len(sources), "references": sum(len(r) for r in refs),
            "exact_greedy": float(numpy.mean(right_g)), "exact_beam": float(numpy.mean(right_b)),
            "examples": {"right": spread([r for r, ok in zip(rows, right_b) if ok], examples),
                         "wrong": spread([r for r, ok in zip(rows, right_b) if not ok],
                                         examples)},
            "rows": rows}


def spread(items: list, count: int) -> list:
    """``count`` items evenly spaced through ``items`` (the test split runs short to long)."""
    if len(items) <= count:
        return items
    return [items[int(i)] for i in numpy.linspace(0, len(items) - 1, count)]


def translations_text(report: dict, rows) -> str:
    """Every test source with its greedy and beam translations and references."""
    lines = [f"# greedy BLEU {report['bleu_greedy']}, beam({report['beam_width']}) BLEU "
             f"{report['bleu_beam']}; '=' marks a beam translation equal to a reference"]
    for row in rows:
        mark = "=" if row["beam"] in row["references"] else "x"
        lines += [f"{mark} EN    {row['source']}", f"  greedy {row['greedy']}",
                  f"  beam   {row['beam']}"] + [f"  ref    {r}" for r in row["references"]]
    return "\n".join(lines) + "\n"


def plot_alignments(model, test, path, device, count: int = 4):
    """Attention weights of ``model``'s greedy translations of the first ``count`` test
    sources of four or more words, one heat map each (rows: French words written, columns:
    English words read), as in Bahdanau et al.'s figure 3."""
    from ..data.datasets import collate_pairs
    from ..ops.creation import tensor
    from ..train.plots import _figure, _finish

    picks, seen = [], set()
    for i, (a, _) in enumerate(test.pairs):
        if len(a) >= 4 and " ".join(a) not in seen and len(picks) < count:
            seen.add(" ".join(a))
            picks.append(i)
    fig = _figure((4.2 * len(picks), 4.2))
    for ax, i in zip(fig.subplots(1, len(picks), squeeze=False)[0], picks):
        src, lengths, _, _ = collate_pairs([(test[i][0], [0])])
        src, lengths = src.to(device), lengths.to(device)
        out = model.greedy(src, lengths)[0]
        weights = model.attention_weights(src, lengths, tensor([[1] + out], device=device))[0]
        ax.imshow(weights, cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks(range(src.shape[1]), test.pairs[i][0] + ["<eos>"], rotation=60)
        ax.set_yticks(range(len(out) + 1), test.tgt_vocab.decode(out) + ["<eos>"])
    fig.suptitle("attention weights: French words written (rows) vs English words read")
    return _finish(fig, path)
