"""examples/xor.py: a linear model fails on XOR, one hidden layer solves it."""
from _load import load_example


def test_linear_fails_and_hidden_layer_solves_xor(tmp_path):
    module = load_example("xor")
    result = module.run(quick=True, out=tmp_path)
    runs = result["details"]["runs"]
    linear, hidden = runs["linear (logreg)"], runs["one hidden layer (8 tanh)"]
    assert linear["truth_table_accuracy"] <= 0.75 and linear["fresh_cloud_accuracy"] <= 0.75
    assert hidden["truth_table_accuracy"] == 1.0
    assert hidden["fresh_cloud_accuracy"] > 0.97
    assert hidden["final_loss"] < 0.05 < linear["final_loss"]
    assert (tmp_path / "result.json").is_file()
