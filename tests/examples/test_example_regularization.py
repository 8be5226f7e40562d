"""examples/regularization.py: the unregularized net over-fits more than with L2 or dropout."""
from _load import load_example


def test_l2_and_dropout_shrink_the_generalization_gap(tmp_path):
    module = load_example("regularization")
    result = module.run(quick=True, out=tmp_path)
    runs = result["details"]["runs"]
    none = runs["none"]
    # over-fitting: 1,000 training images learned by heart, the test set far behind
    assert none["train_accuracy"] == 1.0 and none["train_loss"] < 0.01
    assert none["gap"] > 0.05 and none["loss_gap"] > 0.4
    for name in ("L2 (1e-2)", "dropout (0.2 in, 0.5 hidden)"):
        # the test loss stays well closer to the training loss ...
        assert runs[name]["loss_gap"] < 0.85 * none["loss_gap"], name
        # ... and the accuracy gap is no larger
        assert runs[name]["gap"] <= none["gap"], name
    assert runs["dropout (0.2 in, 0.5 hidden)"]["gap"] < none["gap"] - 0.01
    assert len(runs) == 5 and (tmp_path / "result.json").is_file()
