"""The PyTorch twins of the CIFAR-10 CNNs (bench/torch_cifar.py) compute what nerve's models
compute: same state_dict keys and shapes, same outputs, batch-norm statistics, gradients and
SGD steps once nerve's weights are copied in."""
import numpy
import pytest
from _bench import load_bench

from nerve import nn
from nerve.models import get_model, model_spec
from nerve.train.recipes import make_optimizer, make_scheduler

torch = pytest.importorskip("torch", reason="the twins are PyTorch models")

MODELS = ["vgg_small", "resnet20", "plain20", "densenet_small"]
twin = load_bench("torch_cifar")


def test_the_twin_covers_the_models():
    assert list(twin.MODELS) == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_keys_and_shapes_are_nerves(name):
    nm = get_model(name)
    tm = twin.TWINS[name](**nm.config)
    nsd, tsd = nm.state_dict(), tm.state_dict()
    assert list(nsd) == list(tsd)
    assert all(tuple(v.shape) == tuple(tsd[k].shape) for k, v in nsd.items())
    copied = twin.twin_of(name, nm).state_dict()
    for k, v in nsd.items():
        numpy.testing.assert_array_equal(copied[k].numpy(), v.numpy(), err_msg=k)


@pytest.mark.parametrize("name", MODELS)
def test_same_outputs_statistics_and_gradients_in_float32(name):
    d = twin.check_equivalence(name)
    assert d["eval"] < 1e-4 and d["train"] < 1e-4 and d["buffers"] < 1e-4, d
    # a pre-activation within rounding error of 0 may cross a ReLU kink in one framework only
    assert d["grad"] < 1e-2 * d["grad_scale"], d


@pytest.mark.parametrize("name", MODELS)
def test_same_outputs_statistics_and_gradients_in_float64(name):
    d = twin.check_equivalence(name, dtype="float64")
    assert max(d["eval"], d["train"], d["buffers"], d["grad"]) < 1e-10, d


@pytest.mark.parametrize("name", ["vgg_small", "resnet20"])
def test_sgd_steps_with_the_schedule_match(name):
    d = twin.check_sgd_steps(name, steps=2, batch=2)
    assert d["state"] < 1e-10 and d["lr"] < 1e-12, d


@pytest.mark.parametrize("name", MODELS)
def test_settings_are_the_models_train_defaults(name):
    defaults = model_spec(name).train_defaults
    s = twin.settings_of(name)
    for key in ("lr", "momentum", "weight_decay", "batch_size", "epochs"):
        assert s[key] == defaults[key]
    assert twin.settings_of(name, epochs=3)["epochs"] == 3


def test_cosine_schedule_over_a_whole_run_is_nerves():
    s = twin.settings_of("resnet20")
    steps = 29  # 3,600 images at batch 128
    nopt = make_optimizer("sgd", nn.Linear(2, 2).parameters(), s["lr"], s["momentum"],
                          s["weight_decay"])
    nsched, interval = make_scheduler(s["schedule"], nopt, s["epochs"], steps)
    assert interval == "step"
    topt, tsched = twin.torch_optimizer(torch.nn.Linear(2, 2), s, steps)
    for _ in range(s["epochs"] * steps):
        assert abs(nopt.param_groups[0]["lr"] - topt.param_groups[0]["lr"]) < 1e-12
        topt.step()
        nsched.step()
        tsched.step()
    assert topt.param_groups[0]["lr"] < 1e-12
