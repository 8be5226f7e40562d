"""The seq2seq of ``nerve train seq2seq`` trained by PyTorch with identical hyperparameters.

Same data (nerve's ``SentencePairs`` split of tatoeba-fra-eng: 90/5/5 by distinct English
sentence, seed 0, vocabularies of the training split with min_freq 2), same model (256-d
embeddings, one GRU layer of 256 each side, dot attention with ``tanh(W_c [c; h])``, dropout
0.1; or ``--attention none``), same training (teacher forcing, token cross-entropy ignoring
<pad>, Adam lr 2e-3, batch 64, per-step cosine decay, gradient norm clipped at 1.0, 5
epochs). Reports the test loss and greedy BLEU (nerve's ``bleu``/``detokenize``, so the same
sacrebleu settings and multi-reference grouping) and the wall time, for
docs/results/seq2seq.md.

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_seq2seq.py --epochs 5
"""
from __future__ import annotations

import argparse
import time
from collections import OrderedDict

import numpy
import torch
from torch import nn
from torch.nn import functional as F

from nerve.data.datasets import SentencePairs, find_shared_data
from nerve.data.datasets.text import pad_sequence
from nerve.tasks.translate import bleu, detokenize


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, emb=256, hidden=256, attention="dot",
                 dropout=0.1):
        super().__init__()
        self.attention = attention
        self.src_embed = nn.Embedding(src_vocab, emb, padding_idx=0)
        self.tgt_embed = nn.Embedding(tgt_vocab, emb, padding_idx=0)
        self.encoder = nn.GRU(emb, hidden, batch_first=True)
        self.decoder = nn.GRU(emb, hidden, batch_first=True)
        if attention == "dot":
            self.combine = nn.Linear(2 * hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, tgt_vocab)

    def encode(self, src, lengths):
        memory, _ = self.encoder(self.drop(self.src_embed(src)))
        state = memory[torch.arange(len(src)), lengths - 1].unsqueeze(0)
        mask = torch.arange(src.shape[1])[None, None, :] < lengths[:, None, None]
        return memory, mask, state

    def decode(self, tgt_in, memory, mask, state):
        h, state = self.decoder(self.drop(self.tgt_embed(tgt_in)), state)
        if self.attention == "dot":
            scores = (h @ memory.transpose(1, 2)).masked_fill(~mask, -1e9)
            context = scores.softmax(-1) @ memory
            h = torch.tanh(self.combine(torch.cat([context, h], -1)))
        return self.out(self.drop(h)), state

    def forward(self, src, lengths, tgt_in):
        return self.decode(tgt_in, *self.encode(src, lengths))[0]

    @torch.no_grad()
    def greedy(self, src, lengths, max_len):
        memory, mask, state = self.encode(src, lengths)
        tokens = torch.full((len(src), 1), 1, dtype=torch.long)
        out, alive = [], torch.ones(len(src), dtype=torch.bool)
        for _ in range(max_len):
            logits, state = self.decode(tokens, memory, mask, state)
            logits[:, -1, :2] = -float("inf")  # never <pad>/<sos>, as nerve's decoder
            tokens = logits[:, -1].argmax(-1, keepdim=True)
            out.append(torch.where(alive, tokens[:, 0], 2))
            alive &= tokens[:, 0] != 2
            if not alive.any():
                break
        rows = torch.stack(out, 1).tolist()
        return [r[:r.index(2)] if 2 in r else r for r in rows]


def batches(data, order, size):
    for i in range(0, len(order), size):
        src, tgt = zip(*(data[j] for j in order[i:i + size]))
        lengths = torch.tensor([len(s) for s in src])
        tgt = torch.from_numpy(pad_sequence(tgt, True, 0))
        yield torch.from_numpy(pad_sequence(src, True, 0)), lengths, tgt[:, :-1], tgt[:, 1:]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--attention", choices=("dot", "none"), default="dot")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    kw = {"root": args.data_dir or find_shared_data(), "min_freq": 2,
          "splits": (0.9, 0.05, 0.05), "seed": 0}
    train = SentencePairs(split="train", **kw)
    kw.update(src_vocab=train.src_vocab, tgt_vocab=train.tgt_vocab)
    test = SentencePairs(split="test", **kw)
    model = Seq2Seq(len(train.src_vocab), len(train.tgt_vocab), attention=args.attention)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = args.epochs * -(-len(train) // 64)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    rng = numpy.random.default_rng(args.seed)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = count = 0
        for src, lengths, tgt_in, tgt_out in batches(train, rng.permutation(len(train)), 64):
            logits = model(src, lengths, tgt_in)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                                   ignore_index=0)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total, count = total + loss.item() * len(src), count + len(src)
        print(f"epoch {epoch}: loss {total / count:.4f}, {time.perf_counter() - start:.0f}s",
              flush=True)
    model.eval()
    with torch.no_grad():
        losses = [(F.cross_entropy(model(s, n, ti).flatten(0, 1), to.reshape(-1),
                                   ignore_index=0).item(), len(s))
                  for s, n, ti, to in batches(test, numpy.arange(len(test)), 256)]
    test_loss = sum(v * n for v, n in losses) / sum(n for _, n in losses)
    groups: OrderedDict = OrderedDict()
    for i, (a, b) in enumerate(test.pairs):
        groups.setdefault(" ".join(a), (test[i][0], []))[1].append(b)
    sources = list(groups.values())
    hyps = []
    for i in range(0, len(sources), 256):
        chunk = sources[i:i + 256]
        src = torch.from_numpy(pad_sequence([s for s, _ in chunk], True, 0))
        lengths = torch.tensor([len(s) for s, _ in chunk])
        hyps += model.greedy(src, lengths, int(2 * lengths.max()) + 5)
    refs = [[detokenize(r) for r in rs] for _, rs in sources]
    hyps = [detokenize(test.tgt_vocab.decode(h)) for h in hyps]
    print(f"torch seq2seq ({args.attention} attention): test loss {test_loss:.4f} nats/token, "
          f"greedy BLEU {bleu(hyps, refs):.2f} on {len(sources)} sources, exact match "
          f"{100 * numpy.mean([h in r for h, r in zip(hyps, refs)]):.1f}%; "
          f"{time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
