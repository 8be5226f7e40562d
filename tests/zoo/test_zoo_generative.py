"""The generative models: vae, conv_vae (ELBO, reparametrization) and gan, dcgan (alternating
updates, the Inception-style score), and their command line (train, evaluate, sample)."""
import json
import math
from types import SimpleNamespace

import numpy
import pytest

import nerve
from nerve import optim
from nerve.data.datasets import embedded_mnist
from nerve.models import get_model
from nerve.models.vae import elbo_terms, negative_elbo
from nerve.tasks.gan import gan_step, inception_score, noise_batches
from nerve.tasks.vae import binarize

SMALL = {"vae": {"hidden": 32, "latent_dim": 4}, "conv_vae": {"width": 4, "latent_dim": 4},
         "gan": {"latent_dim": 8, "hidden": (16, 32)}, "dcgan": {"latent_dim": 8, "width": 4}}


@pytest.fixture(scope="module")
def digits():
    """512 embedded MNIST training images in [0, 1], (N, 1, 28, 28) float32."""
    return embedded_mnist(True).data[:512, None].astype(numpy.float32) / 255


def _grads_everywhere(model):
    return all(p.grad is not None and numpy.abs(p.grad.numpy()).sum() > 0
               for p in model.parameters())


# ---- VAE --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["vae", "conv_vae"])
def test_vae_shapes_and_gradients_reach_every_parameter(name):
    nerve.manual_seed(0)
    model = get_model(name, **SMALL[name])
    x = nerve.tensor((numpy.random.default_rng(0).random((3, 1, 28, 28)) > 0.5)
                     .astype(numpy.float32))
    logits, mu, logvar = model(x)
    assert logits.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 4)
    negative_elbo((logits, mu, logvar), x).backward()
    assert _grads_everywhere(model)
    assert model.sample(5).shape == (5, 1, 28, 28)
    with pytest.raises(ValueError, match="28, 28"):
        model(nerve.zeros(2, 784))


def test_reparametrization_sends_the_reconstruction_gradient_to_the_encoder():
    nerve.manual_seed(0)
    model = get_model("vae", **SMALL["vae"])
    x = nerve.tensor((numpy.random.default_rng(1).random((4, 1, 28, 28)) > 0.5)
                     .astype(numpy.float32))
    recon, _ = elbo_terms(model(x), x)
    recon.backward()  # the KL term is left out: only the path through z reaches the encoder
    for p in (model.encoder[1].weight, model.mu.weight, model.logvar.weight):
        assert p.grad is not None and numpy.abs(p.grad.numpy()).max() > 0


def test_reparameterize_has_the_textbook_derivatives():
    m, lv = numpy.array([[0.3, -1.2]]), numpy.array([[0.4, -0.6]])
    mu, logvar = nerve.tensor(m, requires_grad=True), nerve.tensor(lv, requires_grad=True)
    model = get_model("vae")
    nerve.manual_seed(3)
    z = model.reparameterize(mu, logvar)
    nerve.manual_seed(3)
    eps = nerve.randn(1, 2, dtype=nerve.float64).numpy()
    numpy.testing.assert_allclose(z.detach().numpy(), m + numpy.exp(0.5 * lv) * eps)
    z.sum().backward()
    numpy.testing.assert_allclose(mu.grad.numpy(), 1.0)
    numpy.testing.assert_allclose(logvar.grad.numpy(), 0.5 * numpy.exp(0.5 * lv) * eps,
                                  rtol=1e-6)


def test_elbo_is_reconstruction_plus_the_closed_form_kl():
    rng = numpy.random.default_rng(2)
    logits = rng.normal(size=(3, 1, 28, 28))
    x = (rng.random((3, 1, 28, 28)) > 0.5).astype(numpy.float64)
    mu, logvar = rng.normal(size=(3, 2)), rng.normal(scale=0.5, size=(3, 2))
    out = tuple(nerve.tensor(a) for a in (logits, mu, logvar))
    recon, kl = elbo_terms(out, nerve.tensor(x))
    p = 1 / (1 + numpy.exp(-logits))
    expected = -(x * numpy.log(p) + (1 - x) * numpy.log(1 - p)).sum() / 3
    numpy.testing.assert_allclose(recon.item(), expected, rtol=1e-9)
    # KL(N(m, s^2) || N(0, 1)) by numerical integration, dimension by dimension
    z = numpy.linspace(-12, 12, 200_001)
    numeric = 0.0
    for m, lv in zip(mu.ravel(), logvar.ravel()):
        s = math.exp(lv / 2)
        log_q = -0.5 * ((z - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
        log_p = -0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)
        numeric += numpy.trapezoid(numpy.exp(log_q) * (log_q - log_p), z)
    numpy.testing.assert_allclose(kl.item(), numeric / 3, rtol=1e-6)
    numpy.testing.assert_allclose(negative_elbo(out, nerve.tensor(x)).item(),
                                  recon.item() + kl.item(), rtol=1e-12)


def test_binarize_samples_pixels_with_their_gray_level():
    x = numpy.full((200, 1, 28, 28), 0.3, numpy.float32)
    x[:, :, :, :14] = 0.0
    b = binarize(x, numpy.random.default_rng(0))
    assert set(numpy.unique(b)) == {0.0, 1.0} and b[..., :14].max() == 0.0
    assert abs(b[..., 14:].mean() - 0.3) < 0.01


def test_vae_smoke_training_lowers_the_negative_elbo(digits):
    nerve.manual_seed(0)
    model = get_model("vae", hidden=64, latent_dim=8)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    x = nerve.tensor(binarize(digits, numpy.random.default_rng(0)))
    losses = []
    for step in range(40):
        batch = x[(step % 8) * 64:(step % 8 + 1) * 64]
        loss = negative_elbo(model(batch), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 500  # ~784 log 2 at the start
    assert numpy.mean(losses[-8:]) < 0.5 * losses[0]


# ---- GAN --------------------------------------------------------------------------------------
def test_noise_batches_are_one_seeded_draw_in_pieces():
    pieces = list(noise_batches(1200, 7, seed=3, batch_size=500))
    assert [p.shape for p in pieces] == [(500, 7), (500, 7), (200, 7)]
    assert all(p.dtype == numpy.float32 for p in pieces)
    expected = numpy.random.default_rng(3).standard_normal((1200, 7)).astype(numpy.float32)
    numpy.testing.assert_array_equal(numpy.concatenate(pieces), expected)


def test_inception_score_limits():
    confident = numpy.eye(10)[numpy.arange(1000) % 10]  # sure of each image, classes uniform
    assert inception_score(confident) == pytest.approx(10.0)
    assert inception_score(numpy.eye(10)[numpy.zeros(50, int)]) == pytest.approx(1.0)
    assert inception_score(numpy.full((7, 10), 0.1)) == pytest.approx(1.0)
    two = numpy.eye(10)[numpy.arange(40) % 2]
    assert inception_score(two) == pytest.approx(2.0)
    # p(y|x) = (0.9, 0.1) and (0.1, 0.9): exp(KL((0.9, 0.1) || (0.5, 0.5)))
    p = numpy.array([[0.9, 0.1], [0.1, 0.9]])
    kl = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert inception_score(p) == pytest.approx(math.exp(kl))


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_gan_shapes(name):
    model = get_model(name, **SMALL[name])
    images = model(nerve.randn(3, 8))
    assert images.shape == (3, 1, 28, 28)
    assert numpy.abs(images.detach().numpy()).max() <= 1
    assert model.discriminator(images).shape == (3, 1)
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        model(nerve.randn(3, 9))


def _trainer(model, lr=2e-4):
    opt = optim.OptimizerGroup(
        generator=optim.Adam(model.generator.parameters(), lr=lr, betas=(0.5, 0.999)),
        discriminator=optim.Adam(model.discriminator.parameters(), lr=lr, betas=(0.5, 0.999)))
    return SimpleNamespace(model=model, optimizer=opt)


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_gan_step_updates_both_networks(name, digits):
    nerve.manual_seed(0)
    model = get_model(name, **SMALL[name])
    trainer = _trainer(model)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    logs = gan_step(trainer, (nerve.tensor(digits[:16] * 2 - 1), None))
    assert logs["size"] == 16
    assert logs["loss"] == pytest.approx(logs["loss_d"] + logs["loss_g"])
    assert 0 < logs["d_real"] < 1 and 0 < logs["d_fake"] < 1
    after = {k: v.numpy() for k, v in model.state_dict().items()}
    for net in ("generator", "discriminator"):
        weights = [k for k in before if k.startswith(net) and k.endswith("weight")]
        assert weights and all(not numpy.array_equal(before[k], after[k]) for k in weights)


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_eval_mode_samples_from_the_weight_average(name, digits):
    nerve.manual_seed(0)
    model = get_model(name, **SMALL[name])
    z = nerve.randn(4, model.latent_dim)
    model.eval()
    with nerve.no_grad():  # nothing averaged yet: the generator itself
        numpy.testing.assert_array_equal(model(z).numpy(), model.generator(z).numpy())
    trainer = _trainer(model)
    model.train()
    for i in range(3):
        gan_step(trainer, (nerve.tensor(digits[i * 16:(i + 1) * 16] * 2 - 1), None))
    assert int(model.generator_ema.n_averaged.item()) == 3
    model.eval()
    with nerve.no_grad():
        averaged, current = model(z).numpy(), model.generator(z).numpy()
        numpy.testing.assert_array_equal(averaged, model.generator_ema(z).numpy())
    assert not numpy.allclose(averaged, current)
    assert "generator_ema.module.0.weight" in model.state_dict()
    assert get_model(name, **SMALL[name], ema=0).generator_ema is None


def test_gan_smoke_training_discriminator_learns_then_generator_answers(digits):
    nerve.manual_seed(0)
    model = get_model("gan", **SMALL["gan"])
    trainer = _trainer(model, lr=1e-3)
    real = nerve.tensor(digits * 2 - 1)
    logs = [gan_step(trainer, (real[(i % 8) * 64:(i % 8 + 1) * 64], None)) for i in range(30)]
    # at the start D cannot tell (loss_d near 2 log 2); it soon can, and G's loss rises
    assert abs(logs[0]["loss_d"] - 2 * math.log(2)) < 0.15
    assert numpy.mean([g["loss_d"] for g in logs[-5:]]) < logs[0]["loss_d"] - 0.3
    assert numpy.mean([g["d_real"] - g["d_fake"] for g in logs[-5:]]) > 0.3
    assert numpy.mean([g["loss_g"] for g in logs[-5:]]) > logs[0]["loss_g"]


def test_optimizer_group_round_trips_its_state():
    nerve.manual_seed(0)
    model = get_model("gan", **SMALL["gan"])
    trainer = _trainer(model)
    gan_step(trainer, (nerve.rand(8, 1, 28, 28) * 2 - 1, None))
    state = trainer.optimizer.state_dict()
    fresh = _trainer(model).optimizer
    fresh.load_state_dict(state)
    for name in ("generator", "discriminator"):
        a, b = state[name]["state"], fresh[name].state_dict()["state"]
        assert a.keys() == b.keys() and a
    assert len(fresh.param_groups) == 2
    with pytest.raises(ValueError, match="generator"):
        fresh.load_state_dict({"generator": state["generator"]})


# ---- command line -----------------------------------------------------------------------------
TINY = ["--dataset", "embedded-mnist", "--epochs", "1", "--limit-train", "256", "--quiet"]


def _cli(*argv):
    from nerve import cli

    return cli.main([str(a) for a in argv])


def test_cli_vae_train_evaluate_sample(tmp_path, capsys):
    out = tmp_path / "vae"
    assert _cli("train", "vae", *TINY, "--config", "latent_dim=2", "--out", out) == 0
    text = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert test["neg_elbo"] == pytest.approx(test["reconstruction"] + test["kl"])
    assert 100 < test["neg_elbo"] < 545  # one epoch of 2 steps: better than 784 log 2
    assert f"test -ELBO {test['neg_elbo']:.2f} nats" in text
    for name in ("last.nrv", "best.nrv", "history.csv"):
        assert (out / name).is_file()
    if (out / "curves.png").exists():  # matplotlib installed
        for name in ("reconstructions.png", "samples.png", "manifold.png", "latent.png"):
            assert (out / name).is_file(), name
        assert _cli("sample", out / "last.nrv", "--n", 16, "--out", tmp_path / "s.png") == 0
        assert (tmp_path / "s.png").is_file()
    assert _cli("evaluate", out / "last.nrv") == 0
    assert f"test -ELBO {test['neg_elbo']:.2f}" in capsys.readouterr().out  # same seed, same z


def test_cli_dcgan_train_evaluate_sample(tmp_path, capsys):
    out = tmp_path / "dcgan"
    assert _cli("train", "dcgan", *TINY, "--epochs", 2, "--limit-train", 128, "--config",
                "width=4", "--out", out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert 1 <= test["inception_score"] <= 10 and 1 <= test["real_test_inception_score"] <= 10
    assert test["samples"] == 10_000
    assert len(metrics["history"]) == 2
    for row in metrics["history"]:  # the score is logged after every epoch
        assert {"loss", "loss_d", "loss_g", "d_real", "d_fake"} <= set(row)
        assert 1 <= row["inception_score"] <= 10
    assert metrics["best"]["monitor"] == "inception_score"
    # judged on generated samples: nothing of the training set is held out for validation
    assert (metrics["train_samples"], metrics["val_samples"]) == (128, 0)
    assert metrics["best"]["inception_score"] == max(r["inception_score"]
                                                     for r in metrics["history"])
    assert (out / "classifier.nrv").is_file()  # cached for evaluate
    if (out / "curves.png").exists():
        for name in ("samples_epoch01.png", "samples_epoch02.png", "samples.png"):
            assert (out / name).is_file(), name
        assert _cli("sample", out / "last.nrv", "--n", 9) == 0
        assert (out / "last-samples.png").is_file()
    capsys.readouterr()
    assert _cli("evaluate", out / "last.nrv") == 0
    assert f"inception score {test['inception_score']:.2f}" in capsys.readouterr().out


def test_cli_gan_resumes_with_both_optimizers(tmp_path, capsys):
    out = tmp_path / "gan"
    small = [*TINY, "--limit-train", 128, "--out", out]
    assert _cli("train", "gan", *small, "--config", "hidden=(16, 32)") == 0
    first = nerve.load(out / "last.nrv")
    assert sorted(first["optimizer"]) == ["discriminator", "generator"]
    # the resumed run takes its config from the checkpoint
    assert _cli("train", "gan", *small, "--epochs", 2, "--resume", out / "last.nrv") == 0
    rows = json.loads((out / "metrics.json").read_text())["history"]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(1 <= r["inception_score"] <= 10 for r in rows)
