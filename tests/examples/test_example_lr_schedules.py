"""examples/lr_schedules.py: each schedule's learning rates, and every schedule trains."""
import math

import pytest
from _load import load_example


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    module = load_example("lr_schedules")
    return module.run(quick=True, out=tmp_path_factory.mktemp("lr_schedules"))


def expected_lrs(name, total, step_size, warmup, base=0.1):
    """The closed forms, written independently of nerve.optim.lr_scheduler."""
    def cosine(t, T):
        return base * (1 + math.cos(math.pi * t / T)) / 2

    return [{"constant": base,
             "step": base * 0.1 ** (t // step_size),
             "cosine": cosine(t, total),
             "warm-up + cosine": (base * t / warmup if t < warmup
                                  else cosine(t - warmup, total - warmup))}[name]
            for t in range(total)]


def test_learning_rates_follow_each_schedule(result):
    setting = result["details"]["setting"]
    total, step_size, warmup = (setting[k] for k in ("total_updates", "step_size",
                                                     "warmup_updates"))
    assert total == 3 * 8 and step_size == 8 and warmup == 2  # 1,000 images in batches of 128
    runs = result["details"]["runs"]
    assert list(runs) == ["constant", "step", "cosine", "warm-up + cosine"]
    for name, run in runs.items():
        assert run["lr"] == pytest.approx(expected_lrs(name, total, step_size, warmup),
                                          abs=1e-12), name
    assert runs["step"]["lr"][-1] == pytest.approx(1e-3)
    assert runs["warm-up + cosine"]["lr"][0] == 0.0


def test_training_with_each_schedule_reduces_the_loss(result):
    for name, run in result["details"]["runs"].items():
        assert run["final_train_loss"] < 0.3 * run["train_loss"][0], name
        assert run["test_accuracy"] > 0.75, name
