"""char-rnn: a character-level recurrent language model (Karpathy, 2015; Graves, 2013)."""
from __future__ import annotations

from .. import nn
from ..autograd import grad_mode
from ..autograd.tensor import Tensor
from ..ops.creation import tensor
from ._sampling import as_rng, sample_index
from .registry import register_model

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def check_tokens(who: str, x, vocab_size: int) -> None:
    if not isinstance(x, Tensor) or x.ndim != 2 or x.dtype.kind not in "iu":
        raise ValueError(f"{who}: expected integer token ids of shape (batch, seq_len), got "
                         f"{getattr(x, 'dtype', type(x).__name__)} of shape "
                         f"{tuple(getattr(x, 'shape', ()))}")
    lo, hi = (int(x.data.min()), int(x.data.max())) if x.numel() else (0, 0)
    if lo < 0 or hi >= vocab_size:
        raise ValueError(f"{who}: token ids must lie in [0, {vocab_size}), got [{lo}, {hi}]")


@register_model("char_rnn")
class CharRNN(nn.Module):
    """Embedding -> ``layers`` recurrent layers (``cell``: "lstm", "gru" or "rnn") -> Linear:
    the logits of the next character at every position, shape (batch, seq_len, vocab_size).

    A. Karpathy, "The unreasonable effectiveness of recurrent neural networks", 2015
    (char-rnn); A. Graves, "Generating sequences with recurrent neural networks",
    arXiv:1308.0850, 2013. The default is char-rnn's own default, two LSTM layers of 128
    units (with a learned 64-d character embedding instead of one-hot inputs): about 244,000
    parameters, which reaches 1.71 nats/char on the Tiny Shakespeare validation split (1.77
    test) in 1,536 updates, a few minutes on two CPU cores (docs/results/char_rnn.md). The
    larger configuration of the blog post is ``--config hidden_size=512 --config layers=3
    --config dropout=0.5`` (about 5.4 M parameters; hours on a CPU). ``generate`` keeps the
    hidden state across steps, so each new character costs one recurrent step.

    >>> import nerve
    >>> model = CharRNN(vocab_size=10, hidden_size=16, embedding_dim=8)
    >>> model(nerve.tensor([[1, 2, 3], [4, 5, 6]])).shape
    (2, 3, 10)
    >>> len(model.generate([1, 2], 5, temperature=0.0))
    5
    """

    default_config = {"vocab_size": 65, "embedding_dim": 64, "hidden_size": 128, "layers": 2,
                      "cell": "lstm", "dropout": 0.0}
    train_defaults = {"task": "language_model", "dataset": "tinyshakespeare",
                      "optimizer": "adam", "lr": 2e-3, "weight_decay": 0.0, "batch_size": 32,
                      "epochs": 6, "schedule": "cosine", "clip_grad_norm": 1.0,
                      "seq_len": 128, "windows_per_epoch": 8192}

    def __init__(self, vocab_size: int = 65, embedding_dim: int = 64, hidden_size: int = 128,
                 layers: int = 2, cell: str = "lstm", dropout: float = 0.0):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharRNN: cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if not (isinstance(layers, int) and 1 <= layers <= 3):
            raise ValueError(f"CharRNN: layers must be 1, 2 or 3, got {layers!r}")
        self.vocab_size, self.cell = int(vocab_size), cell
        self.embed = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = CELLS[cell](embedding_dim, hidden_size, num_layers=layers, batch_first=True,
                               dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def run(self, x, state=None):
        """``(logits, state)``: the logits for token ids ``x`` (N, T) starting from ``state``
        (None: zeros), and the state after the last step (``(h, c)`` for an LSTM)."""
        check_tokens("CharRNN", x, self.vocab_size)
        out, state = self.rnn(self.embed(x), state)
        return self.head(self.drop(out)), state

    def forward(self, x):
        return self.run(x)[0]

    def generate(self, prime, n: int, temperature: float = 1.0, seed=None) -> list[int]:
        """``n`` new token ids after the ids in ``prime`` (at least one), each drawn from
        softmax(logits / temperature) (``temperature <= 0``: greedy) with a NumPy generator
        seeded by ``seed``; the recurrent state carries over from step to step."""
        prime = [int(i) for i in prime]
        if not prime:
            raise ValueError("CharRNN.generate: prime must hold at least one token id")
        rng, device = as_rng(seed), self.head.weight.device
        was_training = self.training
        self.eval()
        out = []
        try:
            with grad_mode.no_grad():
                logits, state = self.run(tensor([prime], device=device))
                for _ in range(n):
                    out.append(sample_index(logits[0, -1].numpy(force=True), temperature, rng))
                    logits, state = self.run(tensor([[out[-1]]], device=device), state)
        finally:
            self.train(was_training)
        return out
