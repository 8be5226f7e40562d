"""A small decoder-only transformer language model (Vaswani et al., 2017; Radford et al., 2018)."""
from __future__ import annotations

from .. import nn
from ..autograd import grad_mode
from ..ops import creation
from ..ops.math import gelu
from ._sampling import as_rng, sample_index
from .char_rnn import check_tokens
from .registry import register_model


def gelu_tanh(x):
    """GPT's GELU, the tanh approximation (also much faster here than the exact erf)."""
    return gelu(x, approximate="tanh")


@register_model("transformer_lm")
class TransformerLM(nn.Module):
    """Token embedding + learned positional embedding -> ``layers`` pre-LayerNorm blocks of
    causal multi-head self-attention and a GELU feed-forward layer (``nn.TransformerEncoderLayer``
    with ``norm_first=True`` and ``is_causal=True``) -> LayerNorm -> Linear head, tied to the
    token embedding with ``tie_weights``. Output: next-token logits (batch, seq_len,
    vocab_size); position t sees tokens 0..t only.

    A. Vaswani et al., "Attention is all you need", NeurIPS 2017; A. Radford et al.,
    "Improving language understanding by generative pre-training" (GPT), 2018, whose
    decoder-only stack this is, with GPT-2's pre-norm blocks and N(0, 0.02) embeddings.
    The default (d_model 64, 4 layers, 4 heads, context 128; about 217,000 parameters, the
    size of the default char_rnn LSTM within 11%) trains in minutes on two CPU cores; a
    nanoGPT-like "baby GPT" for Tiny Shakespeare is ``--config d_model=384 --config layers=6
    --config heads=6 --config d_ff=1536 --config block_size=256 --config dropout=0.2``
    (about 10.7 M parameters, a GPU job).

    >>> import nerve
    >>> model = TransformerLM(vocab_size=10, block_size=8, d_model=16, layers=1, heads=2,
    ...                       d_ff=32)
    >>> model(nerve.tensor([[1, 2, 3], [4, 5, 6]])).shape
    (2, 3, 10)
    """

    default_config = {"vocab_size": 65, "block_size": 128, "d_model": 64, "layers": 4,
                      "heads": 4, "d_ff": 256, "dropout": 0.0, "tie_weights": False}
    train_defaults = {"task": "language_model", "dataset": "tinyshakespeare",
                      "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "batch_size": 32,
                      "epochs": 6, "schedule": "cosine", "clip_grad_norm": 1.0,
                      "seq_len": 128, "windows_per_epoch": 8192}

    def __init__(self, vocab_size: int = 65, block_size: int = 128, d_model: int = 64,
                 layers: int = 4, heads: int = 4, d_ff: int = 256, dropout: float = 0.0,
                 tie_weights: bool = False):
        super().__init__()
        self.vocab_size, self.block_size = int(vocab_size), int(block_size)
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(creation.zeros(block_size, d_model))
        nn.init.normal_(self.embed.weight, 0.0, 0.02)
        nn.init.normal_(self.pos, 0.0, 0.02)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, heads, d_ff, dropout, activation=gelu_tanh,
                                       batch_first=True, norm_first=True)
            for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=not tie_weights)
        if tie_weights:  # Press & Wolf (2017): the output layer reuses the input embedding
            self.head.weight = self.embed.weight

    def forward(self, x):
        check_tokens("TransformerLM", x, self.vocab_size)
        t = x.shape[1]
        if t > self.block_size:
            raise ValueError(f"TransformerLM: sequence of length {t} is longer than the "
                             f"context, block_size={self.block_size}")
        h = self.drop(self.embed(x) + self.pos[:t])
        for block in self.blocks:
            h = block(h, is_causal=True)
        return self.head(self.norm(h))

    def generate(self, prime, n: int, temperature: float = 1.0, seed=None) -> list[int]:
        """``n`` new token ids after ``prime`` (at least one id), each drawn from
        softmax(logits / temperature) (``temperature <= 0``: greedy); the context is the last
        ``block_size`` tokens, re-read at every step (no key/value cache)."""
        ids = [int(i) for i in prime]
        if not ids:
            raise ValueError("TransformerLM.generate: prime must hold at least one token id")
        rng, device = as_rng(seed), self.embed.weight.device
        was_training = self.training
        self.eval()
        try:
            with grad_mode.no_grad():
                for _ in range(n):
                    context = creation.tensor([ids[-self.block_size:]], device=device)
                    logits = self(context)[0, -1].numpy(force=True)
                    ids.append(sample_index(logits, temperature, rng))
        finally:
            self.train(was_training)
        return ids[len(prime):]
