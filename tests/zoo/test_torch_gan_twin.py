"""The PyTorch twin of the GANs (bench/torch_gan.py) computes what nerve's dcgan and gan
compute: the same state_dict (the generator EMA included), outputs in train and eval mode,
losses, gradients and Adam steps of ``gan_step``, the same EMA with warm-up, and the same
samples for the score."""
from pathlib import Path

import numpy
import pytest
from _bench import load_bench

import nerve
from nerve.models import get_model, model_spec
from nerve.tasks.gan import generate as nerve_generate

torch = pytest.importorskip("torch", reason="the PyTorch twins need torch")

SMALL = {"dcgan": {"width": 8}, "gan": {"hidden": (32, 16), "dropout": 0.0}}




twin = load_bench("torch_gan")


@pytest.mark.parametrize("name", ["dcgan", "gan"])
def test_state_dict_keys_shapes_and_copied_values_are_nerves(name):
    nerve.manual_seed(0)
    nm = get_model(name, **SMALL[name])
    tm = twin.TWINS[name](**nm.config)
    nsd, tsd = nm.state_dict(), tm.state_dict()
    assert list(nsd) == list(tsd)
    assert any(k.startswith("generator_ema.module.") for k in tsd)
    assert all(tuple(v.shape) == tuple(tsd[k].shape) for k, v in nsd.items())
    copied = twin.twin_of(name, nm).state_dict()
    for k, v in nsd.items():
        numpy.testing.assert_array_equal(copied[k].numpy(), v.numpy(), err_msg=k)


@pytest.mark.parametrize("name", ["dcgan", "gan"])
def test_same_outputs_losses_gradients_steps_and_ema_in_float32(name):
    d = twin.check_equivalence(name, dtype="float32", **SMALL[name])
    outputs = ("eval_generator", "eval_discriminator", "train_generator",
               "train_discriminator", "eval_ema_samples")
    assert max(d[k] for k in outputs) < 1e-5, d
    assert max(d["loss_d"], d["loss_g"], d["d_real"], d["d_fake"]) < 1e-5, d
    assert d["grads"] < 1e-4 * d["grad_scale"], d
    assert d["state_after_steps"] < 1e-5 and d["ema_after_steps"] < 1e-5, d


@pytest.mark.parametrize("name", ["dcgan", "gan"])
def test_same_everything_in_float64(name):
    d = twin.check_equivalence(name, steps=4, **SMALL[name])
    assert d["ema_moved"] > 1e-5, d  # the EMA is not simply the generator
    assert max(v for k, v in d.items() if k not in ("grad_scale", "ema_moved")) < 1e-12, d


def test_ema_copies_first_then_averages_with_warm_up_buffers_too():
    model = twin.DCGAN(width=2)
    ema = model.generator_ema
    assert not any(p.requires_grad for p in ema.parameters())
    z = torch.randn(4, 100)
    model.eval()
    assert torch.equal(model(z), model.generator(z))  # no update yet: the generator itself
    model.train()
    weights, means, counts = [], [], []
    for _ in range(3):
        with torch.no_grad():
            model.generator[0].weight.add_(torch.randn_like(model.generator[0].weight))
        model.generator(z)  # batch norm statistics move (num_batches_tracked too)
        model.update_average()
        weights.append(model.generator[0].weight.detach().clone())
        means.append(model.generator[1].running_mean.clone())
        counts.append(int(model.generator[1].num_batches_tracked))
    w, m = weights[0], means[0]  # the first update copies
    for n in (1, 2):
        d = min(0.999, (1 + n) / (10 + n))
        w, m = d * w + (1 - d) * weights[n], d * m + (1 - d) * means[n]
    torch.testing.assert_close(ema.module[0].weight, w)
    torch.testing.assert_close(ema.module[1].running_mean, m)
    assert int(ema.module[1].num_batches_tracked) == counts[-1] == 3  # copied, not averaged
    assert int(ema.n_averaged) == 3
    model.eval()
    assert torch.equal(model(z), ema.module(z))  # eval mode samples from the EMA


def test_samples_for_the_score_are_nerves():
    nerve.manual_seed(0)
    nm = get_model("dcgan", width=8)
    tm = twin.twin_of("dcgan", nm)
    mine = twin.generate(tm, 30, seed=1, batch_size=16)
    assert mine.shape == (30, 1, 28, 28) and mine.dtype == numpy.float32
    numpy.testing.assert_allclose(mine, nerve_generate(nm, 30, seed=1, batch_size=16),
                                  atol=1e-5)
    assert tm.training  # generate restores the mode


@pytest.mark.parametrize("name", ["dcgan", "gan"])
def test_settings_are_the_models_train_defaults(name):
    s, defaults = twin.settings_of(name), model_spec(name).train_defaults
    for key in ("lr", "batch_size", "epochs", "dataset", "classifier_epochs"):
        assert s[key] == defaults[key]
    assert twin.settings_of(name, epochs=2)["epochs"] == 2


def test_classifier_path():
    assert twin.classifier_path(None, "dcgan", "mnist") == Path("runs/dcgan-mnist/classifier.nrv")
    assert twin.classifier_path("x/run", "gan", "mnist") == Path("x/run/classifier.nrv")
    assert twin.classifier_path("a/lenet.nrv", "gan", "mnist") == Path("a/lenet.nrv")
