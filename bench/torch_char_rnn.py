"""The default ``nerve train char_rnn`` trained by PyTorch with identical hyperparameters.

Same data and batches (nerve's own Tiny Shakespeare split and windows, and the same seeded
``DataLoader`` + ``RandomSampler``: 8,192 windows of 128 characters per epoch, batch 32),
same model (Embedding(65, 64) -> 2-layer LSTM of 128 -> Linear), Adam lr 2e-3 with a
per-step cosine schedule, gradient norm clipped at 1, 6 epochs. Prints the validation loss
after each epoch, then test and validation loss in nats/char and the wall time, for
docs/results/char_rnn.md. Pass ``--hidden 120`` for the LSTM of the transformer comparison.

    OMP_NUM_THREADS=1 python bench/torch_char_rnn.py
"""
from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn
from torch.nn import functional as F

from nerve.data import DataLoader, RandomSampler
from nerve.data.datasets import CharVocab
from nerve.tasks.language import Windows, _eval_windows, load_text, split_ids


class CharRNN(nn.Module):
    def __init__(self, vocab, embedding_dim=64, hidden=128, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding_dim)
        self.rnn = nn.LSTM(embedding_dim, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x):
        return self.head(self.rnn(self.embed(x))[0])


def lm_loss(logits, y):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def evaluate(model, windows) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in DataLoader(windows, batch_size=64):
            x, y = torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy())
            total += lm_loss(model(x), y).item() * len(x)
            count += len(x)
    model.train()
    return total / count


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    text, _ = load_text("tinyshakespeare", args.data_dir)
    vocab = CharVocab(text)
    train, val, test = split_ids(vocab.encode(text))
    train = Windows(train, 128)
    val, test = _eval_windows(val, 128), _eval_windows(test, 128)
    loader = DataLoader(train, batch_size=32, seed=args.seed,
                        sampler=RandomSampler(train, num_samples=8192))
    model = CharRNN(len(vocab), hidden=args.hidden)
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * len(loader))
    start = time.perf_counter()
    for epoch in range(args.epochs):
        total = count = 0
        for x, y in loader:
            x, y = torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy())
            loss = lm_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total, count = total + loss.item() * len(x), count + len(x)
        # the epoch's mean training loss, as nerve's history records it
        print(f"epoch {epoch + 1}: loss {total / count:.4f} val_loss {evaluate(model, val):.4f}"
              f"  {time.perf_counter() - start:.0f}s", flush=True)
    t = evaluate(model, test)
    print(f"torch char_rnn: test {t:.4f} nats/char ({t / math.log(2):.3f} bits/char), val "
          f"{evaluate(model, val):.4f}; {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
