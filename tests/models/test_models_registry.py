"""The model registry: names, configs, errors and rebuilding from checkpoints."""
import numpy
import pytest

import nerve
import nerve.nn as nn
from nerve import models
from nerve.models import registry
from nerve.train import CheckpointError, save_checkpoint


def test_builtin_models_are_registered_with_training_defaults():
    assert {"mlp", "lenet"} <= set(models.list_models())
    for name in ("mlp", "lenet"):
        spec = models.model_spec(name)
        assert spec.model_name == name
        assert {"dataset", "optimizer", "lr", "batch_size", "epochs"} <= set(spec.train_defaults)


def test_get_model_merges_config_and_remembers_it():
    model = models.get_model("mlp", hidden=(16, 8), dropout=0.0)
    assert model.config == {"in_features": 784, "hidden": (16, 8), "num_classes": 10,
                            "dropout": 0.0}
    assert [m.out_features for m in model.modules() if isinstance(m, nn.Linear)] == [16, 8, 10]


def test_unknown_names_and_keys_list_what_exists():
    with pytest.raises(models.UnknownModelError, match="unknown model 'resnet9000'; available "
                                                       "models: .*lenet.*mlp"):
        models.get_model("resnet9000")
    with pytest.raises(TypeError, match="unknown config key.s. width; mlp takes dropout"):
        models.get_model("mlp", width=3)


def test_register_model_adds_a_name_and_refuses_a_taken_one(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @models.register_model("tiny")
    class Tiny(nn.Module):
        default_config = {"n": 2}

        def __init__(self, n=2):
            super().__init__()
            self.fc = nn.Linear(n, 1)

    assert "tiny" in models.list_models() and models.get_model("tiny", n=3).fc.in_features == 3
    with pytest.raises(ValueError, match="the name 'tiny' is taken"):
        models.register_model("tiny")(type("Other", (nn.Module,), {}))


def test_from_checkpoint_rebuilds_the_model(tmp_path):
    nerve.manual_seed(1)
    model = models.get_model("mlp", hidden=(12,))
    save_checkpoint(tmp_path / "c.nrv", model, meta={"model": "mlp", "config": model.config})
    rebuilt, state = models.from_checkpoint(tmp_path / "c.nrv")
    x = nerve.randn(3, 1, 28, 28)
    numpy.testing.assert_array_equal(rebuilt.eval()(x).detach().numpy(),
                                     model.eval()(x).detach().numpy())
    save_checkpoint(tmp_path / "nometa.nrv", model)
    with pytest.raises(CheckpointError, match="does not say which model"):
        models.from_checkpoint(tmp_path / "nometa.nrv")
    save_checkpoint(tmp_path / "wrong.nrv", model, meta={"model": "mlp", "config": {}})
    with pytest.raises(CheckpointError, match="do not fit the model 'mlp'"):
        models.from_checkpoint(tmp_path / "wrong.nrv")
