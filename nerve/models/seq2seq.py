"""seq2seq: a GRU encoder-decoder for translation, with optional attention, greedy decoding
and beam search.

K. Cho et al., "Learning phrase representations using RNN encoder-decoder for statistical
machine translation", EMNLP 2014 (the GRU and the encoder-decoder); I. Sutskever, O. Vinyals,
Q. V. Le, "Sequence to sequence learning with neural networks", NeurIPS 2014 (the decoder
starts from the encoder's final state; beam search); D. Bahdanau, K. Cho, Y. Bengio, "Neural
machine translation by jointly learning to align and translate", ICLR 2015 (additive
attention); M.-T. Luong, H. Pham, C. D. Manning, "Effective approaches to attention-based
neural machine translation", EMNLP 2015 (dot-product "global" attention and the attentional
hidden state ``tanh(W_c [c_t; h_t])``).
"""
from __future__ import annotations

import numpy

from .. import nn
from ..autograd import grad_mode
from ..ops.creation import tensor
from ..ops.math import log_softmax, softmax, tanh, where
from ..ops.shape import cat, stack
from .char_rnn import check_tokens
from .registry import register_model

PAD, SOS, EOS = 0, 1, 2  # nerve.data.datasets.Vocab's special ids
ATTENTION = ("none", "dot", "additive")


@register_model("seq2seq")
class Seq2Seq(nn.Module):
    """GRU encoder-decoder for translation, optional attention, greedy and beam decoding.

    Trained with teacher forcing: ``forward(src, src_lengths, tgt_in)`` gives the logits
    of the next target token at every decoder step, shape
    (batch, tgt_len, tgt_vocab_size). Source ids are padded with 0 at the end (``<pad>``);
    ``src_lengths`` are the real lengths, so padding changes neither the encoder's final state
    nor (masked out) the attention weights.

    ``attention``: ``"none"`` (Sutskever et al.: the encoder's final state is all the decoder
    gets), ``"dot"`` (Luong et al.'s global attention, scores ``h_t . e_j`` after each decoder
    step; the decoder runs over the whole sequence at once, the fastest with attention) or
    ``"additive"`` (Bahdanau et al.: scores ``v . tanh(W s_{t-1} + U e_j)`` from the previous
    state, the context fed into the GRU with the previous word, one step at a time). With
    attention the output layer reads ``tanh(W_c [c_t; h_t])``. The encoder is unidirectional
    (Bahdanau et al. used a bidirectional one).

    Decoding: ``greedy`` and ``beam_search`` (width ``beam_width``, hypotheses ranked by
    log-probability / length**``length_penalty``) return token id lists without ``<eos>``.

    Default: 256-d embeddings, one GRU layer of 256 units each side, dot attention, for the
    short Tatoeba English-French pairs (English up to 24 characters); that trains in minutes
    on two CPU cores (see docs/results/seq2seq.md). A larger configuration, for longer
    sentences and a GPU: ``--config hidden_size=512 --config layers=2 --config dropout=0.2``.

    >>> import nerve
    >>> model = Seq2Seq(src_vocab_size=12, tgt_vocab_size=10, embedding_dim=8, hidden_size=16)
    >>> src = nerve.tensor([[4, 5, 2], [6, 2, 0]])
    >>> model(src, nerve.tensor([3, 2]), nerve.tensor([[1, 7, 8], [1, 9, 0]])).shape
    (2, 3, 10)
    >>> len(model.greedy(src, nerve.tensor([3, 2]), max_len=4))
    2
    """

    default_config = {"src_vocab_size": 4000, "tgt_vocab_size": 6000, "embedding_dim": 256,
                      "hidden_size": 256, "layers": 1, "attention": "dot", "dropout": 0.1}
    train_defaults = {"task": "translate", "dataset": "tatoeba-fra-eng", "optimizer": "adam",
                      "lr": 2e-3, "weight_decay": 0.0, "batch_size": 64, "epochs": 5,
                      "schedule": "cosine", "clip_grad_norm": 1.0, "min_freq": 2,
                      "splits": (0.9, 0.05, 0.05), "split_seed": 0, "beam_width": 5,
                      "length_penalty": 1.0}

    def __init__(self, src_vocab_size: int = 4000, tgt_vocab_size: int = 6000,
                 embedding_dim: int = 256, hidden_size: int = 256, layers: int = 1,
                 attention: str = "dot", dropout: float = 0.1):
        super().__init__()
        if attention not in ATTENTION:
            raise ValueError(f"Seq2Seq: attention must be one of {', '.join(ATTENTION)}, got "
                             f"{attention!r}")
        if not (isinstance(layers, int) and 1 <= layers <= 4):
            raise ValueError(f"Seq2Seq: layers must be an integer in 1..4, got {layers!r}")
        self.src_vocab_size, self.tgt_vocab_size = int(src_vocab_size), int(tgt_vocab_size)
        self.attention, self.layers, h = attention, layers, hidden_size
        self.src_embed = nn.Embedding(src_vocab_size, embedding_dim, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, embedding_dim, padding_idx=PAD)
        # one GRU per encoder layer: each layer's state at the last real token is kept
        self.encoder = nn.ModuleList([nn.GRU(embedding_dim if i == 0 else h, h, batch_first=True)
                                      for i in range(layers)])
        dec_in = embedding_dim + (h if attention == "additive" else 0)
        self.decoder = nn.GRU(dec_in, h, num_layers=layers, batch_first=True, dropout=dropout)
        if attention == "additive":
            self.att_query = nn.Linear(h, h, bias=False)
            self.att_key = nn.Linear(h, h)
            self.att_v = nn.Linear(h, 1, bias=False)
        if attention != "none":
            self.combine = nn.Linear(2 * h, h)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(h, tgt_vocab_size)
        self._alignments = None  # a list while attention_weights records them

    # ---- the pieces -------------------------------------------------------------------------
    def encode(self, src, src_lengths):
        """``(memory, mask, state)``: the top encoder layer's outputs (N, S, H), a (N, 1, S)
        bool mask of the real source positions, and the final states (layers, N, H) taken at
        each sentence's last real token."""
        check_tokens("Seq2Seq (source)", src, self.src_vocab_size)
        lengths = numpy.asarray(src_lengths.numpy(force=True) if hasattr(src_lengths, "numpy")
                                else src_lengths, dtype=numpy.int64).reshape(-1)
        n, s = src.shape
        if lengths.shape != (n,) or lengths.min() < 1 or lengths.max() > s:
            raise ValueError(f"Seq2Seq: src_lengths must hold {n} lengths in [1, {s}], got "
                             f"{lengths.tolist()}")
        x, finals = self.drop(self.src_embed(src)), []
        rows, last = numpy.arange(n), lengths - 1
        for i, gru in enumerate(self.encoder):
            x, _ = gru(self.drop(x) if i else x)
            finals.append(x[rows, last])
        mask = numpy.arange(s)[None, None, :] < lengths[:, None, None]
        return x, tensor(mask, device=x.device), stack(finals, 0)

    def _attend(self, scores, memory, mask):
        """Context vectors (N, T, H) from raw scores (N, T, S), padding masked out."""
        weights = softmax(where(mask, scores, -1e9), dim=-1)
        if self._alignments is not None:
            self._alignments.append(weights.numpy(force=True))
        return weights @ memory

    def _readout(self, h, context):
        if context is None:
            return self.out(self.drop(h))
        return self.out(self.drop(tanh(self.combine(cat([context, h], -1)))))

    def _decode(self, tgt_in, memory, mask, state):
        """Logits (N, T, V) for decoder inputs ``tgt_in`` (N, T) and the state afterwards."""
        emb = self.drop(self.tgt_embed(tgt_in))
        if self.attention == "none":
            h, state = self.decoder(emb, state)
            return self._readout(h, None), state
        if self.attention == "dot":
            h, state = self.decoder(emb, state)
            context = self._attend(h @ memory.transpose(1, 2), memory, mask)
            return self._readout(h, context), state
        keys, logits = self.att_key(memory), []  # additive: one step at a time
        for t in range(tgt_in.shape[1]):
            query = self.att_query(state[-1]).unsqueeze(1)  # (N, 1, H)
            scores = self.att_v(tanh(keys + query)).transpose(1, 2)  # (N, 1, S)
            context = self._attend(scores, memory, mask)
            h, state = self.decoder(cat([emb[:, t:t + 1], context], -1), state)
            logits.append(self._readout(h, context))
        return cat(logits, 1), state

    def forward(self, src, src_lengths, tgt_in):
        check_tokens("Seq2Seq (target)", tgt_in, self.tgt_vocab_size)
        memory, mask, state = self.encode(src, src_lengths)
        return self._decode(tgt_in, memory, mask, state)[0]

    def attention_weights(self, src, src_lengths, tgt_in):
        """The attention weights (N, T, S) of each decoder step over the source positions
        while reading ``tgt_in`` (teacher forcing), as a NumPy array (the alignments of
        Bahdanau et al.'s figure 3); None without attention."""
        if self.attention == "none":
            return None
        self._alignments = []
        try:
            self._eval(lambda: self(src, src_lengths, tgt_in))
            return numpy.concatenate(self._alignments, axis=1)
        finally:
            self._alignments = None

    # ---- decoding ---------------------------------------------------------------------------
    def _step(self, tokens, memory, mask, state):
        """Next-token log-probabilities (N, V) as a NumPy array (``<pad>``/``<sos>``
        excluded), and the new state."""
        logits, state = self._decode(tensor(numpy.asarray(tokens)[:, None],
                                            device=memory.device), memory, mask, state)
        logp = log_softmax(logits[:, 0], dim=-1).numpy(force=True)
        logp[:, [PAD, SOS]] = -numpy.inf  # never targets in training; kept out of outputs
        return logp, state

    def _eval(self, fn):
        was_training = self.training
        self.eval()
        try:
            with grad_mode.no_grad():
                return fn()
        finally:
            self.train(was_training)

    @staticmethod
    def _max_len(max_len, src_lengths):
        return int(max_len) if max_len is not None else int(2 * int(numpy.max(
            numpy.asarray(src_lengths.numpy(force=True) if hasattr(src_lengths, "numpy")
                          else src_lengths))) + 5)

    def greedy(self, src, src_lengths, max_len: int | None = None, return_scores=False):
        """The most likely next token at each step, for a batch of sources: a list of token
        id lists (``<eos>`` dropped), at most ``max_len`` tokens (default 2 * source length +
        5); with ``return_scores`` also each sequence's log-probability (``<eos>`` included)."""
        max_len = self._max_len(max_len, src_lengths)

        def run():
            memory, mask, state = self.encode(src, src_lengths)
            n = src.shape[0]
            tokens = numpy.full(n, SOS, dtype=numpy.int64)
            out, scores = [[] for _ in range(n)], numpy.zeros(n)
            alive = numpy.ones(n, dtype=bool)
            for _ in range(max_len):
                logp, state = self._step(tokens, memory, mask, state)
                tokens = logp.argmax(axis=1)
                scores += numpy.where(alive, logp[numpy.arange(n), tokens], 0.0)
                for i in numpy.flatnonzero(alive & (tokens != EOS)):
                    out[i].append(int(tokens[i]))
                alive &= tokens != EOS
                if not alive.any():
                    break
            return (out, scores.tolist()) if return_scores else out

        return self._eval(run)

    def beam_search(self, src, src_lengths, beam_width: int = 5, max_len: int | None = None,
                    length_penalty: float = 1.0, return_scores=False):
        """Beam search for a batch of sources (each with its own beams): keeps the
        ``beam_width`` best prefixes; a prefix ending in ``<eos>`` among the top
        ``beam_width`` candidates is finished; a source stops once ``beam_width`` are finished
        (or at ``max_len``, default 2 * its length + 5) and returns the finished hypothesis
        with the best log-probability / length**``length_penalty`` (length counts ``<eos>``;
        0 ranks by log-probability alone). Width 1 is greedy decoding. Returns token id lists
        (and their log-probabilities with ``return_scores``)."""
        if not (isinstance(beam_width, int) and beam_width >= 1):
            raise ValueError(f"Seq2Seq.beam_search: beam_width must be a positive integer, "
                             f"got {beam_width!r}")
        lengths = numpy.asarray(src_lengths.numpy(force=True) if hasattr(src_lengths, "numpy")
                                else src_lengths, dtype=numpy.int64).reshape(-1)
        limits = [self._max_len(max_len, lengths[i:i + 1]) for i in range(len(lengths))]
        best = self._eval(lambda: self._beams(src, src_lengths, beam_width, limits,
                                              length_penalty))
        tokens = [b[2] for b in best]
        return (tokens, [float(b[1]) for b in best]) if return_scores else tokens

    def _beams(self, src, src_lengths, k, limits, alpha):
        memory, mask, state = self.encode(src, src_lengths)
        n = src.shape[0]
        rows = numpy.repeat(numpy.arange(n), k)  # beam j of source i is row i * k + j
        memory, mask, state = memory[rows], mask[rows], state[:, rows]
        prefixes = [[] for _ in range(n * k)]
        scores = numpy.tile([0.0] + [-numpy.inf] * (k - 1), n)  # one live beam at first
        finished = [[] for _ in range(n)]  # (normalized score, log-prob, tokens)
        done = numpy.zeros(n, dtype=bool)
        for step in range(1, max(limits) + 1):
            logp, state = self._step([p[-1] if p else SOS for p in prefixes], memory, mask,
                                     state)
            # the best 2k of a source's k * V candidates are among each beam's best 2k
            m = min(2 * k, logp.shape[1])
            tokens = numpy.argpartition(-logp, m - 1, axis=1)[:, :m]
            total = scores[:, None] + numpy.take_along_axis(logp, tokens, 1).astype(
                numpy.float64)
            total, tokens = total.reshape(n, k * m), tokens.reshape(n, k * m)
            pick, new_prefixes = numpy.arange(n * k), list(prefixes)
            new_scores = numpy.full(n * k, -numpy.inf)
            for i in numpy.flatnonzero(~done):
                kept = 0
                for rank, j in enumerate(numpy.argsort(-total[i], kind="stable")[:2 * k]):
                    beam, token, value = j // m, int(tokens[i, j]), total[i, j]
                    if token == EOS:
                        if rank < k and value > -numpy.inf:
                            finished[i].append((value / step ** alpha, value,
                                                prefixes[i * k + beam]))
                    elif kept < k:
                        row = i * k + kept
                        pick[row] = i * k + beam
                        new_prefixes[row] = prefixes[i * k + beam] + [token]
                        new_scores[row] = value
                        kept += 1
                if len(finished[i]) >= k or step >= limits[i]:
                    done[i] = True
                    if not finished[i]:  # the length limit: the unfinished prefixes compete
                        finished[i] = [(s / step ** alpha, s, p) for p, s in zip(
                            new_prefixes[i * k:(i + 1) * k], new_scores[i * k:(i + 1) * k])]
            if done.all():
                break
            prefixes, scores, state = new_prefixes, new_scores, state[:, pick]
        return [max(f, key=lambda h: h[0]) for f in finished]
