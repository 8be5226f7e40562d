"""char_rnn, transformer_lm and word2vec (nerve/models) with the language_model and word2vec
tasks (nerve/tasks/language.py, nerve/tasks/word2vec.py)."""
import json
import math

import numpy
import pytest

import nerve
from nerve import optim
from nerve.cli import main as nerve_main
from nerve.data import DataLoader
from nerve.data.datasets import MissingDataError, find_shared_data
from nerve.models import get_model
from nerve.models.word2vec import sgns_loss
from nerve.tasks.language import Windows, lm_loss, load_text, split_ids
from nerve.tasks.word2vec import (
    SkipGram,
    WordVocab,
    keep_probabilities,
    nearest_neighbours,
    skipgram_pairs,
    tokenize_words,
)

SMALL = {"char_rnn": {"vocab_size": 12, "embedding_dim": 8, "hidden_size": 16},
         "transformer_lm": {"vocab_size": 12, "block_size": 16, "d_model": 16, "layers": 2,
                            "heads": 2, "d_ff": 32}}
LMS = [("char_rnn", {"cell": c}) for c in ("lstm", "gru", "rnn")] + [
    ("char_rnn", {"cell": "lstm", "layers": 3}), ("transformer_lm", {}),
    ("transformer_lm", {"tie_weights": True})]
TEXT = ("to be or not to be that is the question whether tis nobler in the mind to suffer "
        "the slings and arrows of outrageous fortune ") * 30


def small_lm(name, **extra):
    nerve.manual_seed(0)
    return get_model(name, **{**SMALL[name], **extra})


def random_ids(shape, vocab=12, seed=0):
    return nerve.tensor(numpy.random.default_rng(seed).integers(0, vocab, shape))


@pytest.mark.parametrize("name,extra", LMS)
def test_lm_forward_backward_shapes(name, extra):
    model = small_lm(name, **extra)
    x, y = random_ids((3, 7)), random_ids((3, 7), seed=1)
    logits = model(x)
    assert logits.shape == (3, 7, 12)
    loss = lm_loss(logits, y)
    assert loss.item() == pytest.approx(math.log(12), rel=0.2)  # near uniform at init
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, pname


def test_lm_loss_is_mean_cross_entropy_per_token():
    rng = numpy.random.default_rng(0)
    logits, target = rng.normal(size=(2, 3, 5)), rng.integers(0, 5, (2, 3))
    logp = logits - numpy.log(numpy.exp(logits).sum(-1, keepdims=True))
    expected = -numpy.take_along_axis(logp, target[..., None], -1).mean()
    assert lm_loss(nerve.tensor(logits), nerve.tensor(target)).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="logits"):
        lm_loss(nerve.tensor(logits), nerve.tensor(target[:, :2]))


def test_model_configs_and_token_checks():
    with pytest.raises(ValueError, match="cell"):
        get_model("char_rnn", cell="elman")
    with pytest.raises(ValueError, match="layers"):
        get_model("char_rnn", layers=4)
    model = small_lm("transformer_lm")
    with pytest.raises(ValueError, match="block_size"):
        model(random_ids((1, 17)))
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        model(nerve.tensor([[0, 12]]))
    tied = small_lm("transformer_lm", tie_weights=True)
    assert tied.head.weight is tied.embed.weight
    n = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in tied.parameters()) == n - 12 * 16 - 12  # no head, no bias


def test_default_lstm_and_transformer_have_about_the_same_size():
    sizes = {name: sum(p.numel() for p in get_model(name).parameters())
             for name in ("char_rnn", "transformer_lm")}
    assert sizes["char_rnn"] == 243_969 and sizes["transformer_lm"] == 216_641
    # the comparison in docs/results/transformer_lm.md: an LSTM of 120 units, within 0.5%
    lstm = sum(p.numel() for p in get_model("char_rnn", hidden_size=120).parameters())
    assert abs(lstm - sizes["transformer_lm"]) / sizes["transformer_lm"] < 0.005


@pytest.mark.parametrize("name,extra", LMS[:2] + LMS[-2:-1])
def test_generation_is_seeded(name, extra):
    model = small_lm(name, **extra)
    a = model.generate([1, 2, 3], 30, temperature=1.0, seed=7)
    assert a == model.generate([1, 2, 3], 30, temperature=1.0, seed=7)
    assert a != model.generate([1, 2, 3], 30, temperature=1.0, seed=8)
    assert len(a) == 30 and all(0 <= i < 12 for i in a)
    assert model.training  # generate restores the mode


@pytest.mark.parametrize("name,extra", LMS[:2] + LMS[-2:-1])
def test_zero_temperature_is_greedy_and_state_carries_over(name, extra):
    model = small_lm(name, **extra)
    greedy = model.generate([4, 5], 12, temperature=0.0, seed=1)
    assert model.generate([4, 5], 12, temperature=1e-6, seed=2) == greedy
    ids = [4, 5]  # greedy by re-reading the whole sequence at every step
    model.eval()
    with nerve.no_grad():
        for _ in range(12):
            ids.append(int(model(nerve.tensor([ids[-16:]]))[0, -1].numpy().argmax()))
    assert ids[2:] == greedy


def test_transformer_is_causal():
    model = small_lm("transformer_lm")
    model.eval()
    x = random_ids((2, 10)).numpy()
    y = x.copy()
    y[:, 6:] = (y[:, 6:] + 1) % 12  # change the future of position 5
    with nerve.no_grad():
        a, b = model(nerve.tensor(x)).numpy(), model(nerve.tensor(y)).numpy()
    numpy.testing.assert_allclose(a[:, :6], b[:, :6], rtol=1e-5, atol=1e-6)
    assert numpy.abs(a[:, 6:] - b[:, 6:]).max() > 1e-3


def test_transformer_gradient_never_flows_from_the_future():
    model = small_lm("transformer_lm")
    model.eval()
    emb = model.embed(random_ids((1, 8))).detach()
    emb.requires_grad_(True)
    h = emb + model.pos[:8]
    for block in model.blocks:
        h = block(h, is_causal=True)
    h[0, 3].sum().backward()
    g = numpy.abs(emb.grad.numpy()[0]).sum(-1)
    assert (g[4:] == 0).all() and (g[:4] > 0).all()


def test_windows_are_shifted_by_one_and_splits_are_contiguous():
    ids = numpy.arange(20)
    w = Windows(ids, 4)
    assert len(w) == 16
    x, y = w.get_batch([0, 15])
    numpy.testing.assert_array_equal(x, [[0, 1, 2, 3], [15, 16, 17, 18]])
    numpy.testing.assert_array_equal(y, x + 1)
    assert len(Windows(ids, 4, stride=4)) == 4
    tr, va, te = split_ids(list(range(1000)))
    assert (len(tr), len(va), len(te)) == (900, 50, 50) and tr[-1] + 1 == va[0] == 900


@pytest.mark.parametrize("name", ["char_rnn", "transformer_lm"])
def test_smoke_training_on_a_small_text_makes_the_loss_fall(name):
    chars = sorted(set(TEXT))
    ids = numpy.array([chars.index(c) for c in TEXT])
    data = Windows(ids, 16)
    model = small_lm(name, vocab_size=len(chars))
    opt = optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for step, (x, y) in enumerate(DataLoader(data, batch_size=16, shuffle=True, seed=0)):
        loss = lm_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step == 120:
            break
    assert numpy.mean(losses[-5:]) < 0.5 * numpy.mean(losses[:3])


# ---- word2vec ---------------------------------------------------------------------------------
def test_word2vec_forward_backward_shapes_and_loss_value():
    model = get_model("word2vec", vocab_size=20, embedding_dim=8)
    center, cand = nerve.tensor([1, 2, 3]), nerve.tensor(numpy.arange(12).reshape(3, 4))
    scores = model(center, cand)
    assert scores.shape == (3, 4)
    labels = numpy.zeros((3, 4), numpy.float32)
    labels[:, 0] = 1
    rng = numpy.random.default_rng(0)
    s = rng.normal(size=(3, 4))
    expected = -(numpy.log(1 / (1 + numpy.exp(-s[:, 0]))).sum()
                 + numpy.log(1 / (1 + numpy.exp(s[:, 1:]))).sum()) / 3
    assert sgns_loss(nerve.tensor(s), nerve.tensor(labels)).item() == pytest.approx(expected)
    model.input.weight.data[...] = rng.normal(size=(20, 8))  # u = 0 at init: no input grad
    sgns_loss(model(center, cand), nerve.tensor(labels)).backward()
    assert model.input.weight.grad.shape == (20, 8)
    assert model.output.weight.grad.shape == (20, 8)


def test_tokens_vocabulary_pairs_and_subsampling():
    assert tokenize_words("The KING's men; o'er-run!") == ["the", "king's", "men", "o'er",
                                                           "run"]
    vocab = WordVocab("a b a c a b d".split(), min_count=2)
    assert vocab.itos == ["a", "b"] and vocab.counts.tolist() == [3, 2]
    numpy.testing.assert_array_equal(vocab.encode("a d b".split()), [0, 1])
    numpy.testing.assert_allclose(vocab.noise(), numpy.array([3, 2]) ** 0.75 / (
        3 ** 0.75 + 2 ** 0.75))
    centers, contexts = skipgram_pairs([0, 1, 2, 3], window=2)
    pairs = sorted(zip(centers.tolist(), contexts.tolist()))
    assert pairs == sorted([(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (0, 2), (2, 0),
                            (1, 3), (3, 1)])
    keep = keep_probabilities([1000, 1], t=1e-3)
    assert keep[1] == 1.0 and keep[0] == pytest.approx(math.sqrt(1.001e-3) + 1.001e-3)


def topic_corpus(n_sentences=600, seed=0):
    """Sentences of 8 words drawn from one of three topics: words of a topic only ever
    appear near each other, so each word's nearest neighbours are its topic's words."""
    topics = [["king", "queen", "prince", "duke"], ["love", "heart", "kiss", "sweet"],
              ["sword", "blood", "death", "war"]]
    rng = numpy.random.default_rng(seed)
    words = []
    for _ in range(n_sentences):
        words += list(rng.choice(topics[rng.integers(3)], 8))
    return topics, words


def test_word2vec_finds_the_topics_of_a_synthetic_corpus():
    topics, words = topic_corpus()
    vocab = WordVocab(words, min_count=1)
    data = SkipGram(*skipgram_pairs(vocab.encode(words), 2), vocab.noise(), negatives=4)
    nerve.manual_seed(0)
    model = get_model("word2vec", vocab_size=len(vocab), embedding_dim=8)
    before = nerve.train.evaluate(model, data, sgns_loss, metrics=())["loss"]
    assert before == pytest.approx(5 * math.log(2))  # u = 0: every score is 0
    nerve.train.fit(model, DataLoader(data, batch_size=256, shuffle=True, seed=0), sgns_loss,
                    optim.Adam(model.parameters(), lr=0.05), epochs=3, metrics=(),
                    progress=False)
    assert nerve.train.evaluate(model, data, sgns_loss, metrics=())["loss"] < 0.7 * before
    found = nearest_neighbours(model.vectors(), vocab, ["king", "love", "death", "absent"], k=3)
    assert set(found) == {"king", "love", "death"}
    for word, neighbours in found.items():
        topic = next(t for t in topics if word in t)
        assert {w for w, _ in neighbours} == set(topic) - {word}, (word, neighbours)


# ---- data and the command line ----------------------------------------------------------------
def test_missing_tiny_shakespeare_is_a_clear_error(tmp_path):
    with pytest.raises(MissingDataError, match="Tiny Shakespeare not found.*--data-dir"):
        load_text("tinyshakespeare", tmp_path)
    with pytest.raises(ValueError, match="--data-dir"):
        load_text("text")


def test_tiny_shakespeare_from_shared_data():
    shared = find_shared_data()
    if shared is None or not (shared / "tinyshakespeare" / "input.txt").is_file():
        pytest.skip("no shared data folder with tinyshakespeare/input.txt")
    text, source = load_text("tinyshakespeare", shared)
    assert len(text) == 1_115_394 and len(set(text)) == 65 and text.startswith("First Citizen")


@pytest.fixture
def text_dir(tmp_path):
    folder = tmp_path / "text"
    folder.mkdir()
    (folder / "input.txt").write_text(TEXT, encoding="utf-8")
    return folder


@pytest.mark.parametrize("model", ["char_rnn", "transformer_lm"])
def test_cli_language_model_train_evaluate_sample(tmp_path, text_dir, capsys, model):
    out = tmp_path / "run"
    assert nerve_main(["train", model, "--dataset", "text", "--data-dir", str(text_dir),
                       "--epochs", "2", "--limit-train", "64", "--batch-size", "16", "--quiet",
                       "--no-plots", "--config", "layers=1", "--out", str(out)]) == 0
    for f in ("last.nrv", "best.nrv", "history.csv", "metrics.json", "samples.txt"):
        assert (out / f).is_file(), f
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert metrics["config"]["vocab_size"] == len(set(TEXT))
    assert test["perplexity"] == pytest.approx(math.exp(test["loss"]))
    assert test["bits_per_char"] == pytest.approx(test["loss"] / math.log(2))
    assert test["loss"] < math.log(len(set(TEXT)))  # it learned something in 8 steps
    assert metrics["train_samples"] == 64 and len(metrics["history"]) == 2
    # "ROMEO:" and "\n" are not in TEXT: the sample starts from its first character, " "
    assert (out / "samples.txt").read_text().startswith(" ")
    capsys.readouterr()
    assert nerve_main(["evaluate", str(out / "last.nrv"), "--data-dir", str(text_dir)]) == 0
    assert f"{test['loss']:.4f} nats/char" in capsys.readouterr().out
    for extra in ([], ["--temperature", "0"]):
        target = tmp_path / "sample.txt"
        assert nerve_main(["sample", str(out / "last.nrv"), "--n", "40", "--prime", "to be",
                           "--seed", "3", "--out", str(target), *extra]) == 0
        printed = capsys.readouterr().out
        text = target.read_text()[:-1]
        assert text.startswith("to be") and len(text) == 45 and text in printed
    assert nerve_main(["sample", str(out / "last.nrv"), "--prime", "XYZ"]) != 0


def test_cli_word2vec_train_and_evaluate_print_neighbours(tmp_path, capsys):
    _, words = topic_corpus(300)
    text = tmp_path / "words.txt"
    text.write_text(" ".join(words), encoding="utf-8")
    out = tmp_path / "w2v"
    assert nerve_main(["train", "word2vec", "--dataset", "text", "--data-dir", str(text),
                       "--epochs", "1", "--config", "embedding_dim=8", "--no-plots",
                       "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nearest neighbours (cosine):" in printed and "king:" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["vocab_size"] == 12
    assert set(metrics["test"]["neighbours"]) == {"king", "love", "death"}
    assert nerve_main(["evaluate", str(out / "last.nrv"), "--data-dir", str(text)]) == 0
    assert "death:" in capsys.readouterr().out
