"""The PyTorch twins of logreg and perceptron (bench/torch_linear.py): nerve's state_dict, the
same scores, losses (the models' criteria), gradients and SGD steps, the same settings as
``nerve train``, and short end-to-end runs that end on nerve's weights."""

import numpy
import pytest
from _bench import load_bench

import nerve
from nerve.cli import main as nerve_main
from nerve.models import from_checkpoint, get_model, model_spec
from nerve.models.linear import perceptron_loss as nerve_perceptron_loss

torch = pytest.importorskip("torch", reason="the PyTorch twins need torch")

MODELS = ["logreg", "perceptron"]




twin = load_bench("torch_linear")


def test_the_twin_covers_the_models():
    assert list(twin.MODELS) == MODELS


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("config", [{}, {"in_features": 784, "num_classes": 10}])
def test_state_dict_keys_shapes_and_weights_are_nerves(name, config):
    nerve.manual_seed(0)
    nm = get_model(name, **config)
    tm = twin.twin_of(nm)
    nsd, tsd = nm.state_dict(), tm.state_dict()
    assert list(nsd) == list(tsd) == ["linear.weight", "linear.bias"]
    for k, v in nsd.items():
        numpy.testing.assert_array_equal(tsd[k].numpy(), v.numpy(), err_msg=k)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [{"in_features": 784, "num_classes": 10, "batch": 16},
                                   {"in_features": 2, "num_classes": 2, "batch": 1,
                                    "steps": 20}])
def test_same_scores_loss_gradients_and_steps_in_float32(name, shape):
    d = twin.check_equivalence(name, **shape)
    assert d["loss_value"] > 0, d  # some mistakes: the perceptron's gradient is not zero
    assert d["eval_scores"] < 1e-5 and d["scores"] < 1e-5, d
    assert d["loss"] < 1e-6 and d["grads"] < 1e-6 * max(1.0, d["grad_scale"]), d
    assert d["params_after_steps"] < 1e-5 * max(1.0, d["step_scale"]), d


@pytest.mark.parametrize("name", MODELS)
def test_same_scores_loss_gradients_and_steps_in_float64(name):
    d = twin.check_equivalence(name, dtype="float64", lr=0.3)
    assert max(d["eval_scores"], d["scores"], d["loss"], d["grads"],
               d["params_after_steps"]) < 1e-12, d


def test_perceptron_loss_with_ties_is_nerves():
    """Tied best wrong classes share the gradient (nerve's ``max(axis=1)``); a score tied with
    the true class (margin 0) and correct points give no gradient."""
    scores = numpy.array([[1.0, 3.0, 3.0, 0.0],    # two wrong classes tie at the top
                          [2.0, 2.0, 1.0, 0.0],    # a tie with the true class: loss 0
                          [5.0, 1.0, 1.0, 1.0],    # correct
                          [0.0, 0.0, 0.0, 0.5]], dtype=numpy.float32)
    target = numpy.array([0, 1, 0, 2])
    n = nerve.tensor(scores, requires_grad=True)
    n_loss = nerve_perceptron_loss(n, nerve.tensor(target))
    n_loss.backward()
    t = torch.tensor(scores, requires_grad=True)
    t_loss = twin.perceptron_loss(t, torch.tensor(target))
    t_loss.backward()
    assert abs(n_loss.item() - t_loss.item()) < 1e-7 and abs(t_loss.item() - 2.5 / 4) < 1e-7
    numpy.testing.assert_allclose(t.grad.numpy(), n.grad.numpy(), atol=1e-7)
    assert t.grad[0, 1] == t.grad[0, 2] == 0.125 and not t.grad[1:3].any()


@pytest.mark.parametrize("name", MODELS)
def test_settings_are_nerve_trains(name):
    defaults = model_spec(name).train_defaults
    s = twin.settings_of(name)
    for key in ("dataset", "optimizer", "lr", "momentum", "weight_decay", "batch_size",
                "epochs", "schedule"):
        assert s[key] == defaults[key], key
    s = twin.settings_of(name, dataset="mnist", epochs=5, lr=0.1, batch_size=64)
    assert (s["dataset"], s["epochs"], s["lr"], s["batch_size"]) == ("mnist", 5, 0.1, 64)
    with pytest.raises(ValueError):
        twin.settings_of(name, dataset="tinyshakespeare")


@pytest.mark.parametrize("name", MODELS)
def test_a_short_run_ends_on_nerve_trains_weights(name, tmp_path, capsys):
    """Two epochs on the blobs (batch 1 for the perceptron): both frameworks see the same
    batches from the same start, so they end on the same weights up to float32 rounding."""
    common = ["--dataset", "blobs", "--epochs", "2"]
    assert nerve_main(["train", name, *common, "--out", str(tmp_path), "--no-plots",
                       "--quiet"]) == 0
    model = twin.main(["--model", name, *common])
    printed = capsys.readouterr().out
    nm, _ = from_checkpoint(tmp_path / "last.nrv")
    mine = model.state_dict()
    for k, v in nm.state_dict().items():
        numpy.testing.assert_allclose(mine[k].numpy(), v.numpy(), atol=1e-5, err_msg=k)
    nerve_acc = next(line for line in printed.splitlines() if line.startswith("test accuracy"))
    torch_acc = printed.strip().splitlines()[-1]
    assert nerve_acc.split()[2] == torch_acc.split()[2], printed
