"""examples/minibatch.py: larger batches descend more smoothly, batch 1 updates most often."""
from _load import load_example

SIZES = ["1", "32", "128", "1024", "full"]


def test_larger_batches_are_smoother_and_batch_1_makes_most_updates(tmp_path):
    module = load_example("minibatch")
    result = module.run(quick=True, out=tmp_path)
    runs = result["details"]["runs"]
    assert list(runs) == SIZES
    n = result["details"]["setting"]["train_images"]
    per_epoch = {name: r["updates_per_epoch"] for name, r in runs.items()}
    assert per_epoch == {"1": n, "32": n // 32, "128": n // 128, "1024": n // 1024, "full": 1}
    # per update, the loss changes vary less as the batch grows: strictly, once the common
    # downward trend is taken out (roughness), and for the raw changes from 1 to 32 to full
    rough = [runs[name]["roughness"] for name in SIZES]
    assert all(a > b for a, b in zip(rough, rough[1:])), rough
    std = {name: r["diff_std"] for name, r in runs.items()}
    assert std["1"] > 3 * std["32"] and std["32"] > std["full"]
    # batch 1 often makes the loss go up; the full batch never does
    assert runs["1"]["increase_fraction"] > 0.2 and runs["full"]["increase_fraction"] == 0.0
    # every batch size trains; batch 1 gets furthest in its (half an epoch of) updates
    for name, r in runs.items():
        assert r["final_loss"] < 0.6 * r["loss"][0], name
    assert runs["1"]["final_loss"] < min(runs[name]["final_loss"] for name in SIZES[1:])
    assert (tmp_path / "result.json").is_file()
