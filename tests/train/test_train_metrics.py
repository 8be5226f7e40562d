"""Metrics against values worked out by hand."""
import math

import numpy
import pytest

import nerve
from nerve.train import metrics as M

SCORES = numpy.array([[0.1, 0.7, 0.2],    # predicts 1
                      [0.5, 0.3, 0.2],    # predicts 0
                      [0.2, 0.2, 0.6],    # predicts 2
                      [0.3, 0.4, 0.3],    # predicts 1
                      [0.6, 0.1, 0.3]])   # predicts 0
TARGET = numpy.array([1, 2, 2, 0, 0])


@pytest.mark.parametrize("wrap", [numpy.asarray, nerve.tensor, list])
def test_accuracy_counts_argmax_hits(wrap):
    # hits: rows 0, 2, 4 -> 3 of 5
    assert M.accuracy(wrap(SCORES), wrap(TARGET)) == pytest.approx(0.6)
    assert M.accuracy(numpy.array([1, 0, 2, 1, 0]), TARGET) == pytest.approx(0.6)  # labels


def test_accuracy_over_sequences_uses_axis_1_and_ignore_index():
    scores = numpy.zeros((2, 3, 4))  # (N, C, T)
    scores[:, 1, :] = 1.0  # always class 1
    target = numpy.array([[1, 1, 0, -100], [2, 1, -100, -100]])
    assert M.accuracy(scores, target, ignore_index=-100) == pytest.approx(3 / 5)


def test_top_k_accuracy_by_hand():
    # ranks of the target: row0 1st, row1 3rd, row2 1st, row3 2nd (tied 0.3 with class 2),
    # row4 1st -> top-1 3/5, top-2 4/5, top-3 5/5
    assert M.top_k_accuracy(SCORES, TARGET, k=1) == pytest.approx(0.6)
    assert M.top_k_accuracy(SCORES, TARGET, k=2) == pytest.approx(0.8)
    assert M.top_k_accuracy(SCORES, TARGET, k=3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k must be"):
        M.top_k_accuracy(SCORES, TARGET, k=4)


def test_confusion_matrix_and_precision_recall_by_hand():
    cm = M.confusion_matrix(SCORES, TARGET)
    # true 0: predicted 1, 0 ; true 1: predicted 1 ; true 2: predicted 0, 2
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    precision, recall = M.precision_recall(cm)
    numpy.testing.assert_allclose(precision, [1 / 2, 1 / 2, 1.0])
    numpy.testing.assert_allclose(recall, [1 / 2, 1.0, 1 / 2])
    cm4 = M.confusion_matrix(SCORES, TARGET, num_classes=4)  # class 3 never seen: zeros
    assert cm4.shape == (4, 4) and cm4[3].sum() == 0
    assert M.precision_recall(cm4)[0][3] == 0.0
    with pytest.raises(ValueError, match="outside"):
        M.confusion_matrix(SCORES, TARGET, num_classes=2)


def test_perplexity_is_exp_of_mean_loss():
    assert M.perplexity(math.log(7.0)) == pytest.approx(7.0)
    assert M.perplexity(1e6) == math.inf


def test_streaming_metrics_equal_whole_array_values():
    acc, top2, loss, ppl = (M.get_metric("accuracy"), M.get_metric("top2_accuracy"),
                            M.MeanLoss(), M.get_metric("perplexity"))
    for rows, batch_loss in ((slice(0, 2), 1.0), (slice(2, 5), 2.0)):
        for m in (acc, top2, loss, ppl):
            m.update(SCORES[rows], TARGET[rows], batch_loss)
    assert acc.compute() == pytest.approx(0.6)
    assert top2.compute() == pytest.approx(0.8) and top2.name == "top2_accuracy"
    assert loss.compute() == pytest.approx((2 * 1.0 + 3 * 2.0) / 5)  # sample-weighted
    assert ppl.compute() == pytest.approx(math.exp(8 / 5))


def test_metric_from_a_function_and_bad_names():
    def wrong(output, target):
        return 1.0 - M.accuracy(output, target)

    m = M.get_metric(wrong)
    m.update(SCORES, TARGET)
    assert m.name == "wrong" and m.compute() == pytest.approx(0.4)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        M.get_metric("acuracy")


def test_shape_and_dtype_errors_name_the_metric():
    with pytest.raises(ValueError, match="accuracy: scores of shape"):
        M.accuracy(SCORES, TARGET[:3])
    with pytest.raises(TypeError, match="integer class indices"):
        M.accuracy(SCORES, TARGET.astype(float))
