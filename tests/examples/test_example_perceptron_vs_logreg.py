"""examples/perceptron_vs_logreg.py: on overlapping classes the perceptron keeps oscillating
while logistic regression converges; on separable data the perceptron stops."""

import pytest
from _load import load_example


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    module = load_example("perceptron_vs_logreg")
    return module.run(quick=True, out=tmp_path_factory.mktemp("pvl"))["details"]["runs"]


def test_perceptron_keeps_oscillating_on_non_separable_data(runs):
    last = runs["perceptron / blobs"]["last_half"]
    assert last["min_mistakes"] > 0  # every epoch still makes mistakes, so still updates
    assert last["mean_weight_change"] > 0.2  # the boundary keeps jumping
    assert last["accuracy_range"] > 0.03


def test_logistic_regression_converges_on_the_same_data(runs):
    logreg = runs["logreg / blobs"]["last_half"]
    perceptron = runs["perceptron / blobs"]["last_half"]
    assert logreg["loss_range_relative"] < 0.05
    assert logreg["accuracy_range"] <= 0.03
    assert perceptron["accuracy_range"] > 3 * logreg["accuracy_range"]
    assert logreg["final_accuracy"] > 0.85  # the Bayes accuracy of these blobs is about 0.92


def test_perceptron_converges_on_separable_data(runs):
    log = runs["perceptron / linear"]["log"]
    assert log["mistakes"][-1] == 0 and log["accuracy"][-1] == 1.0
    assert runs["perceptron / linear"]["last_half"]["mean_weight_change"] == 0.0
