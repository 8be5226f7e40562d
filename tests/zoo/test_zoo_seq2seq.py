"""seq2seq (nerve/models/seq2seq.py) with the translate task (nerve/tasks/translate.py)."""
import argparse
import importlib.util
import json
import math
import sys

import numpy
import pytest

import nerve
from nerve import optim
from nerve.cli import main as nerve_main
from nerve.data.datasets import MissingDataError, SentencePairs, Vocab, find_shared_data
from nerve.models import get_model
from nerve.tasks import Run, get_task
from nerve.tasks.translate import TokenCrossEntropy, bleu, collate_translation, detokenize

ATTENTION = ("none", "dot", "additive")
SMALL = {"src_vocab_size": 11, "tgt_vocab_size": 9, "embedding_dim": 8, "hidden_size": 16,
         "dropout": 0.0}


def small(attention="dot", seed=0, **extra):
    nerve.manual_seed(seed)
    return get_model("seq2seq", **{**SMALL, "attention": attention, **extra})


def batch(seed=0, n=4, src_vocab=11, tgt_vocab=9):
    """Random pairs of different lengths, collated (padded) as the task does."""
    rng = numpy.random.default_rng(seed)
    pairs = []
    for i in range(n):
        s = rng.integers(4, src_vocab, 1 + (i * 2) % 5)
        t = rng.integers(4, tgt_vocab, 1 + (i * 3) % 4)
        pairs.append((numpy.append(s, 2), numpy.concatenate([[1], t, [2]])))
    return pairs, collate_translation(pairs)


def sequence_logprob(model, src, lengths, tokens):
    """log p(tokens + <eos> | src) by teacher forcing through ``forward``."""
    tgt = [1] + list(tokens) + [2]
    model.eval()
    with nerve.no_grad():
        logits = model(src, lengths, nerve.tensor([tgt[:-1]]))
    logp = nerve.log_softmax(logits, dim=-1).numpy()[0]
    return float(sum(logp[t, y] for t, y in enumerate(tgt[1:])))


@pytest.mark.parametrize("attention", ATTENTION)
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_backward_shapes_with_padding(attention, layers):
    model = small(attention, layers=layers)
    _, (src, lengths, tgt_in, tgt_out) = batch()
    logits = model(src, lengths, tgt_in)
    assert logits.shape == (4, tgt_in.shape[1], 9)
    loss = TokenCrossEntropy()(logits, tgt_out)
    assert loss.item() == pytest.approx(math.log(9), rel=0.25)  # near uniform at init
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        if not name.endswith("embed.weight"):
            assert numpy.abs(p.grad.numpy()).sum() > 0, name


@pytest.mark.parametrize("attention", ATTENTION)
@pytest.mark.parametrize("layers", [1, 2])
def test_padding_changes_nothing(attention, layers):
    """Each sentence's logits in a padded batch equal those of the sentence alone: the
    encoder's state is read at the last real token and attention never looks at padding."""
    model = small(attention, layers=layers)
    model.eval()
    pairs, (src, lengths, tgt_in, _) = batch()
    with nerve.no_grad():
        together = model(src, lengths, tgt_in).numpy()
        for i, (s, t) in enumerate(pairs):
            alone = model(nerve.tensor([s]), nerve.tensor([len(s)]),
                          nerve.tensor([t[:-1]])).numpy()[0]
            numpy.testing.assert_allclose(together[i, :len(t) - 1], alone, rtol=1e-4,
                                          atol=1e-5)


@pytest.mark.parametrize("attention", ["dot", "additive"])
def test_attention_weights_are_distributions_over_real_source_words(attention):
    model = small(attention)
    _, (src, lengths, tgt_in, _) = batch()
    weights = model.attention_weights(src, lengths, tgt_in)
    assert weights.shape == (4, tgt_in.shape[1], src.shape[1])
    numpy.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    for i, n in enumerate(lengths.numpy()):
        assert (weights[i, :, n:] < 1e-12).all() and (weights[i, :, :n] > 0).all()
    assert small("none").attention_weights(src, lengths, tgt_in) is None


def test_token_cross_entropy_ignores_padding():
    rng = numpy.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5)).astype(numpy.float32)
    target = numpy.array([[1, 4, 0], [3, 0, 0]])
    got = TokenCrossEntropy()(nerve.tensor(logits), nerve.tensor(target)).item()
    z = logits - logits.max(-1, keepdims=True)
    logp = z - numpy.log(numpy.exp(z).sum(-1, keepdims=True))
    want = -numpy.mean([logp[0, 0, 1], logp[0, 1, 4], logp[1, 0, 3]])
    assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("attention", ATTENTION)
def test_beam_width_one_is_greedy_and_scores_are_log_probabilities(attention):
    model = small(attention, seed=3)
    _, (src, lengths, _, _) = batch(seed=1)
    greedy, g_scores = model.greedy(src, lengths, max_len=6, return_scores=True)
    beam, b_scores = model.beam_search(src, lengths, beam_width=1, max_len=6,
                                       return_scores=True)
    assert beam == greedy
    numpy.testing.assert_allclose(b_scores, g_scores, rtol=1e-6)
    for i, tokens in enumerate(greedy):  # finished ones: the score is log p(y, <eos> | x)
        if len(tokens) < 6:
            n = int(lengths.numpy()[i])
            assert g_scores[i] == pytest.approx(sequence_logprob(
                model, src[i:i + 1, :n], nerve.tensor([n]), tokens), abs=1e-4)
            assert all(t not in (0, 1, 2) for t in tokens)


@pytest.mark.parametrize("attention", ATTENTION)
def test_beam_search_finds_a_likelier_sequence_than_greedy(attention):
    model = small(attention, seed=3, tgt_vocab_size=6)
    model.out.weight.data *= 4  # peakier next-word distributions: greedy choices matter
    _, (src, lengths, _, _) = batch(seed=2, n=6, tgt_vocab=6)
    greedy, g_scores = model.greedy(src, lengths, max_len=8, return_scores=True)
    beam, b_scores = model.beam_search(src, lengths, beam_width=6, max_len=8,
                                       length_penalty=0.0, return_scores=True)
    assert all(b >= g - 1e-6 for b, g in zip(b_scores, g_scores))
    for i in range(len(beam)):  # the sources of a batch are searched independently
        n = int(lengths.numpy()[i])
        assert model.beam_search(src[i:i + 1, :n], nerve.tensor([n]), beam_width=6, max_len=8,
                                 length_penalty=0.0) == [beam[i]]
    assert any(b > g + 1e-3 for b, g in zip(b_scores, g_scores)), "beam never beat greedy"
    for i, tokens in enumerate(beam):
        n = int(lengths.numpy()[i])
        if len(tokens) < 8:
            assert b_scores[i] == pytest.approx(sequence_logprob(
                model, src[i:i + 1, :n], nerve.tensor([n]), tokens), abs=1e-4)


def test_bad_inputs_have_clear_errors():
    with pytest.raises(ValueError, match="attention must be one of"):
        small("luong")
    model = small()
    src = nerve.tensor([[4, 5, 2]])
    with pytest.raises(ValueError, match="src_lengths"):
        model(src, nerve.tensor([4]), nerve.tensor([[1, 4]]))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 9\)"):
        model(src, nerve.tensor([3]), nerve.tensor([[1, 9]]))
    with pytest.raises(ValueError, match="beam_width"):
        model.beam_search(src, nerve.tensor([3]), beam_width=0)


@pytest.mark.parametrize("attention", ["none", "additive"])
def test_smoke_training_learns_to_reverse_toy_pairs(attention):
    """20 pairs 'a b c' -> 'c b a' (over a 6-word vocabulary): the loss falls to near zero
    and greedy decoding then reproduces every target."""
    rng = numpy.random.default_rng(0)
    pairs = []
    for _ in range(20):
        s = rng.integers(4, 10, rng.integers(2, 5))
        pairs.append((numpy.append(s, 2), numpy.concatenate([[1], s[::-1], [2]])))
    src, lengths, tgt_in, tgt_out = collate_translation(pairs)
    model = small(attention, src_vocab_size=10, tgt_vocab_size=10, hidden_size=32,
                  embedding_dim=16)
    opt = optim.Adam(model.parameters(), lr=0.02)
    loss_fn, losses = TokenCrossEntropy(), []
    for _ in range(150):
        loss = loss_fn(model(src, lengths, tgt_in), tgt_out)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.5 and losses[-1] < 0.05
    decoded = model.greedy(src, lengths)
    assert decoded == [list(t[1:-1]) for _, t in pairs]


def test_detokenize_and_bleu_against_known_values():
    assert detokenize(["va", "-", "t", "'", "en", "!"]) == "va-t'en !"
    assert detokenize(["(", "oui", ")", ",", "c", "'", "est", "ça", "."]) == "(oui), c'est ça."
    pytest.importorskip("sacrebleu", reason="sacrebleu is an optional dependency")
    assert bleu(["le chat est là"], [["le chat est là"]]) == pytest.approx(100.0)
    # 4/5 unigrams, 3/4 bigrams, 2/3 trigrams, 1/2 4-grams, no brevity penalty
    assert bleu(["a b c d e"], [["a b c d f"]]) == pytest.approx(
        100 * (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25, rel=1e-6)
    # a second reference (of only one segment) makes it a perfect match
    assert bleu(["a b c d e", "x y"], [["a b c d f", "a b c d e"], ["x y"]]) == \
        pytest.approx(100.0)


def write_pairs(folder, lines):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fra.txt").write_text("\n".join(lines), encoding="utf-8")


def toy_run(data_dir, **settings):
    args = argparse.Namespace(data_dir=str(data_dir))
    return Run(args, {"min_freq": 1, "splits": (0.6, 0.2, 0.2), "split_seed": 0, **settings},
               nerve.device("cpu"), data_dir)


def test_split_holds_out_whole_source_sentences(tmp_path):
    # several translations per English sentence: none may straddle train and test
    lines = [f"Sentence {i}.\tPhrase {i} version {k} ." for i in range(40)
             for k in range(1 + i % 3)]
    write_pairs(tmp_path / "tatoeba-fra-eng", lines)
    data = get_task("translate").load(toy_run(tmp_path))
    parts = [{" ".join(a) for a, _ in d.pairs} for d in (data.train, data.val, data.test)]
    assert sum(len(d) for d in (data.train, data.val, data.test)) == len(lines)
    assert [len(p) for p in parts] == [24, 8, 8]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    # vocabularies come from the training split only (held-out numbers are unknown words)
    vocab = Vocab(data.meta["src_vocab"])
    assert all(str(i) in vocab for s in parts[0] for i in s.split()[1:2])
    assert not any(s.split()[1] in vocab for s in parts[2])
    assert data.config == {"src_vocab_size": len(vocab),
                           "tgt_vocab_size": len(data.meta["tgt_vocab"])}


def test_split_of_the_real_pairs_has_no_source_overlap():
    shared = find_shared_data()
    if shared is None or not (shared / "tatoeba-fra-eng" / "fra.txt").is_file():
        pytest.skip("shared data tatoeba-fra-eng/fra.txt is absent")
    kw = {"path": shared / "tatoeba-fra-eng" / "fra.txt", "splits": (0.9, 0.05, 0.05)}
    train, test = SentencePairs(split="train", **kw), SentencePairs(split="test", **kw)
    sources = [{" ".join(a) for a, _ in d.pairs} for d in (train, test)]
    assert not sources[0] & sources[1]
    assert len(sources[1]) == pytest.approx(0.05 * 33295, abs=2)


def test_missing_data_says_where_to_put_it(tmp_path):
    with pytest.raises(MissingDataError, match="fra.txt.*manythings"):
        get_task("translate").load(toy_run(tmp_path / "empty"))


@pytest.fixture
def small_pairs(tmp_path):
    """Every 40th pair of the real file (about 1,300): a real but tiny corpus."""
    shared = find_shared_data()
    if shared is None or not (shared / "tatoeba-fra-eng" / "fra.txt").is_file():
        pytest.skip("shared data tatoeba-fra-eng/fra.txt is absent")
    lines = (shared / "tatoeba-fra-eng" / "fra.txt").read_text(encoding="utf-8").split("\n")
    write_pairs(tmp_path / "data" / "tatoeba-fra-eng", lines[::40])
    return tmp_path / "data"


def test_cli_train_evaluate_sample(tmp_path, small_pairs, capsys):
    out = tmp_path / "run"
    small_config = ["--config", "hidden_size=32", "--config", "embedding_dim=16"]
    assert nerve_main(["train", "seq2seq", "--epochs", "1", "--limit-train", "200",
                       "--data-dir", str(small_pairs), "--out", str(out), "--quiet",
                       *small_config]) == 0
    text = capsys.readouterr().out
    assert "test BLEU greedy" in text or "no sacrebleu" in text
    plots = ("curves.png", "attention.png") if importlib.util.find_spec("matplotlib") else ()
    for name in ("last.nrv", "best.nrv", "history.csv", "metrics.json", "translations.txt",
                 *plots):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert metrics["train_samples"] == 200 and test["beam_width"] == 5
    assert test["sentences"] > 0 and test["references"] >= test["sentences"]
    assert "EN" in (out / "translations.txt").read_text(encoding="utf-8")
    assert nerve_main(["evaluate", str(out / "last.nrv"), "--data-dir", str(small_pairs)]) == 0
    assert "distinct test sources" in capsys.readouterr().out
    assert nerve_main(["sample", str(out / "last.nrv"), "--text", "I am cold.",
                       "--beam-width", "2"]) == 0
    text = capsys.readouterr().out
    assert "I am cold." in text and "beam(2)" in text


def test_without_sacrebleu_bleu_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu.metrics", None)
    assert bleu(["a b"], [["a b"]]) is None
    line = get_task("translate").summary({"bleu_greedy": None, "beam_width": 5, "loss": 1.0,
                                          "exact_greedy": 0.25, "exact_beam": 0.5})
    assert "no sacrebleu" in line and "25.0%" in line and "50.0%" in line
