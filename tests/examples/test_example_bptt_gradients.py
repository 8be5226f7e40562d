"""examples/bptt_gradients.py: an RNN's gradient decays much faster in time than an LSTM's."""

import pytest
from _load import load_example


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    module = load_example("bptt_gradients")
    return module.run(quick=True, out=tmp_path_factory.mktemp("bptt"))["details"]["runs"]


def test_rnn_gradient_decays_much_faster_than_lstm(runs):
    rnn, lstm = runs["rnn (tanh)"], runs["lstm (forget bias 1)"]
    assert len(rnn["input_grad_norm"]) == 40
    assert rnn["decay_per_step"] < 0.75 < lstm["decay_per_step"]
    # 30 steps back the RNN's gradient is over a thousand times smaller, relative to step T
    assert rnn["relative_input_grad"][30] < 1e-3 * lstm["relative_input_grad"][30]
    assert rnn["steps_to_1e-3"] < lstm["steps_to_1e-3"]


def test_both_decay_exponentially_at_initialization(runs):
    for r in runs.values():
        assert r["decay_per_step"] < 0.95
        assert r["relative_input_grad"][-1] < r["relative_input_grad"][5]
