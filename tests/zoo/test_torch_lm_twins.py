"""The PyTorch twins of transformer_lm and word2vec (bench/torch_transformer_lm.py,
bench/torch_word2vec.py): the same state_dict as nerve's models, so they start from nerve's
seeded weights, the same outputs, losses, gradients and training steps, the same learning-rate
schedules, and a quick end-to-end run of each."""

import numpy
import pytest
from _bench import load_bench

import nerve
from nerve.data.datasets import find_shared_data
from nerve.models import get_model
from nerve.train.recipes import make_scheduler

torch = pytest.importorskip("torch", reason="the PyTorch twins need torch")





@pytest.fixture(scope="module")
def lm():
    return load_bench("torch_transformer_lm")


@pytest.fixture(scope="module")
def w2v():
    return load_bench("torch_word2vec")


def needs_tiny_shakespeare():
    shared = find_shared_data()
    if shared is None or not (shared / "tinyshakespeare" / "input.txt").is_file():
        pytest.skip("no shared data folder with tinyshakespeare/input.txt")


def same_keys_and_shapes(nerve_model, model):
    mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert mine == {k: tuple(v.shape) for k, v in nerve_model.state_dict().items()}


# ---- transformer_lm -------------------------------------------------------------------------
@pytest.mark.parametrize("config", [{}, {"tie_weights": True}])
def test_transformer_lm_twin_has_nerves_state_dict(lm, config):
    nerve.manual_seed(0)
    n_model = get_model("transformer_lm", **config)
    same_keys_and_shapes(n_model, lm.TransformerLM(**n_model.config))
    twin = lm.twin_of(n_model)
    for k, v in n_model.state_dict().items():
        numpy.testing.assert_array_equal(twin.state_dict()[k].numpy(), v.numpy())


@pytest.mark.parametrize("kwargs", [
    {"batch": 2},  # the default model on full 128-character windows
    {"seq_len": 10, "vocab_size": 12, "block_size": 16, "d_model": 16, "layers": 2,
     "heads": 2, "d_ff": 32, "tie_weights": True, "seed": 3}])
def test_transformer_lm_twin_computes_what_nerve_computes(lm, kwargs):
    d = lm.check_equivalence(**kwargs)
    assert d["eval_logits"] < 1e-4 and d["outputs"] < 1e-4, d
    assert d["loss"] < 1e-5 and d["grads"] < 1e-5, d
    # three Adam steps of lr 1e-3: the weights agree to a small part of one step
    assert d["params_after_steps_but_key_bias"] < 1e-4 and d["lr_after_steps"] < 1e-12, d


def lr_sequences(torch_optimizer, settings, epochs=3, steps=7):
    model = torch.nn.Linear(2, 2)
    opt, sched = torch_optimizer(model, epochs, steps)
    n_opt = nerve.optim.Adam([nerve.nn.Parameter(nerve.zeros(2))], lr=settings["lr"])
    n_sched, interval = make_scheduler(settings["schedule"], n_opt, epochs, steps)
    assert interval == "step"
    ours, theirs = [], []
    for _ in range(epochs * steps):
        ours.append(n_opt.param_groups[0]["lr"])
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        n_sched.step()
    return numpy.array(ours), numpy.array(theirs)


def test_transformer_lm_twin_schedule_is_nerves(lm):
    ours, theirs = lr_sequences(lm.torch_optimizer, lm.SETTINGS)
    numpy.testing.assert_allclose(theirs, ours, rtol=1e-9, atol=1e-12)
    assert ours[0] == lm.SETTINGS["lr"] and ours[-1] < ours[0] / 50


def test_transformer_lm_twin_runs(lm, capsys):
    needs_tiny_shakespeare()
    lm.main(["--limit", "64", "--epochs", "1"])
    out = capsys.readouterr().out
    assert "max |logit difference|" in out and "epoch 1: loss" in out
    assert "torch transformer_lm: test" in out and "thread(s)" in out


# ---- word2vec ------------------------------------------------------------------------------
def test_word2vec_twin_has_nerves_state_dict(w2v):
    nerve.manual_seed(0)
    n_model = get_model("word2vec", vocab_size=30, embedding_dim=8)
    same_keys_and_shapes(n_model, w2v.Word2Vec(**n_model.config))
    twin = w2v.twin_of(n_model)
    for k, v in n_model.state_dict().items():
        numpy.testing.assert_array_equal(twin.state_dict()[k].numpy(), v.numpy())


@pytest.mark.parametrize("kwargs", [{}, {"vocab_size": 3000, "embedding_dim": 100,
                                         "batch": 1024, "seed": 1}])
def test_word2vec_twin_computes_what_nerve_computes(w2v, kwargs):
    d = w2v.check_equivalence(**kwargs)
    assert d["init_scores"] == 0.0 and d["outputs"] < 1e-5, d
    assert d["loss"] < 1e-5 and d["grads"] < 1e-6, d
    # three Adam steps of lr 3e-3
    assert d["params_after_steps"] < 1e-4 and d["lr_after_steps"] < 1e-12, d


def test_word2vec_twin_schedule_is_nerves(w2v):
    ours, theirs = lr_sequences(w2v.torch_optimizer, w2v.SETTINGS)
    numpy.testing.assert_allclose(theirs, ours, rtol=1e-9, atol=1e-12)
    assert ours[0] == w2v.SETTINGS["lr"]


def test_word2vec_twin_uses_nerves_pairs(w2v):
    needs_tiny_shakespeare()
    (run, data), (run2, data2) = w2v.load_data(seed=0, limit=5000), w2v.load_data(seed=0)
    assert len(data.train) == 5000 and len(data2.train) > 500_000
    assert len(data.extra["vocab"]) == len(data2.extra["vocab"]) > 1000
    numpy.testing.assert_array_equal(data.train.dataset.centers, data2.train.centers)
    first = next(iter(run.loader(data2.train, shuffle=True)))
    again = next(iter(run2.loader(data2.train, shuffle=True)))
    for a, b in zip(first, again):  # the same pairs and noise words for the same seed
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())


def test_word2vec_twin_runs(w2v, capsys):
    needs_tiny_shakespeare()
    w2v.main(["--limit", "3000", "--epochs", "1"])
    out = capsys.readouterr().out
    assert "epoch 1: loss" in out and "torch word2vec: test loss" in out
    assert "nearest neighbours" in out and "king:" in out and "thread(s)" in out
