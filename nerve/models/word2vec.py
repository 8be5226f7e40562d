"""word2vec: skip-gram with negative sampling (Mikolov et al., 2013)."""
from __future__ import annotations

from .. import nn
from ..autograd import grad_mode
from ..nn import functional as F
from .registry import register_model

__all__ = ["Word2Vec", "sgns_loss"]


def sgns_loss(scores, labels):
    """The negative-sampling objective, summed over each row's candidates and averaged over
    rows: -log s(u_o . v_c) - sum_k log s(-u_k . v_c), with ``scores`` (B, 1 + K) the dot
    products of the true context (label 1) and K noise words (label 0)."""
    if scores.shape != labels.shape:
        raise ValueError(f"sgns_loss: scores {tuple(scores.shape)} and labels "
                         f"{tuple(labels.shape)} must have the same shape")
    return F.binary_cross_entropy_with_logits(scores, labels, reduction="sum") / scores.shape[0]


@register_model("word2vec")
class Word2Vec(nn.Module):
    """Two embedding tables: ``input`` vectors v (the word embeddings one keeps) and ``output``
    vectors u. ``forward(center (B,), candidates (B, 1 + K))`` returns the scores u . v_center
    of each candidate; trained with ``sgns_loss`` on (true context, K noise words drawn from
    the unigram distribution to the power 0.75).

    T. Mikolov, I. Sutskever, K. Chen, G. Corrado and J. Dean, "Distributed representations
    of words and phrases and their compositionality", NeurIPS 2013 (and Mikolov et al.,
    "Efficient estimation of word representations in vector space", 2013). Initialization
    as the original C code: v ~ U(-0.5/d, 0.5/d), u = 0. The default (100-d vectors over the
    ~3,000 Tiny Shakespeare words seen 5+ times) trains in about a minute on two CPU cores;
    the paper's setting is 300-d vectors on billions of words.

    >>> import nerve
    >>> model = Word2Vec(vocab_size=20, embedding_dim=8)
    >>> model(nerve.tensor([1, 2]), nerve.tensor([[3, 4, 5], [6, 7, 8]])).shape
    (2, 3)
    """

    default_config = {"vocab_size": 3000, "embedding_dim": 100}
    train_defaults = {"task": "word2vec", "dataset": "tinyshakespeare", "optimizer": "adam",
                      "lr": 3e-3, "weight_decay": 0.0, "batch_size": 1024, "epochs": 5,
                      "schedule": "linear", "window": 5, "negatives": 5, "min_count": 5,
                      "subsample": 1e-3}

    def __init__(self, vocab_size: int = 3000, embedding_dim: int = 100):
        super().__init__()
        self.input = nn.Embedding(vocab_size, embedding_dim)
        self.output = nn.Embedding(vocab_size, embedding_dim)
        bound = 0.5 / embedding_dim
        nn.init.uniform_(self.input.weight, -bound, bound)
        nn.init.zeros_(self.output.weight)

    def forward(self, center, candidates):
        if center.ndim != 1 or candidates.ndim != 2 or candidates.shape[0] != center.shape[0]:
            raise ValueError(f"Word2Vec: expected center (B,) and candidates (B, 1 + K), got "
                             f"{tuple(center.shape)} and {tuple(candidates.shape)}")
        v = self.input(center).unsqueeze(1)  # (B, 1, d)
        u = self.output(candidates)  # (B, 1 + K, d)
        return (u * v).sum(-1)

    def vectors(self):
        """The word vectors v as a NumPy array (vocab_size, embedding_dim)."""
        with grad_mode.no_grad():
            return self.input.weight.numpy(force=True).copy()
