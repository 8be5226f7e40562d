"""examples/degradation.py: with identical settings, ResNet-20's training loss ends below the
plain 20-layer network's (the shortcuts ease optimization)."""
import json

import pytest
from _load import load_example

from nerve.data.datasets import find_shared_data


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    shared = find_shared_data()
    if shared is None or not (shared / "cifar10" / "data_batch_1_first4000.bin.gz").is_file():
        pytest.skip("the shared CIFAR-10 training images (shared/data/cifar10) are not there")
    module = load_example("degradation")
    out = tmp_path_factory.mktemp("degradation")
    return module.run(quick=True, out=out), out


def test_resnet_training_loss_ends_below_the_plain_networks(result):
    record, _ = result
    runs = record["details"]["runs"]
    plain, res = runs["plain20"], runs["resnet20"]
    # over the whole training set after training, and averaged over the last epoch
    assert res["final_train_loss"] < plain["final_train_loss"] - 0.05
    assert res["epoch_loss"][-1] < plain["epoch_loss"][-1]
    assert record["details"]["claims"] == {"resnet20_below_plain20": True}
    assert record["value"] == {"plain20": round(plain["final_train_loss"], 4),
                               "resnet20": round(res["final_train_loss"], 4)}


def test_both_networks_learn_with_the_same_settings(result):
    record, _ = result
    runs = record["details"]["runs"]
    assert set(runs) == {"plain20", "resnet20"}  # quick mode: depth 20 only
    for run in runs.values():
        assert run["depth"] == 20
        assert run["epoch_loss"][-1] < run["epoch_loss"][0]  # both train
        assert len(run["step_loss"]) == len(runs["resnet20"]["step_loss"])
    # no extra parameters: option A shortcuts are parameter-free
    assert runs["plain20"]["parameters"] == runs["resnet20"]["parameters"]


def test_result_json_and_figure_are_written(result):
    record, out = result
    assert json.loads((out / "result.json").read_text())["experiment"] == "degradation"
    assert record["command"] == "python examples/degradation.py --quick"
    if record["details"]["figure"] is not None:
        assert (out / "degradation.png").stat().st_size > 0
