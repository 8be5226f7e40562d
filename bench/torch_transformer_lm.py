"""The default ``nerve train transformer_lm`` trained by PyTorch with identical hyperparameters.

Same data and batches as bench/torch_char_rnn.py (nerve's own Tiny Shakespeare split and
windows, and the same seeded ``DataLoader`` + ``RandomSampler``: 8,192 windows of 128
characters per epoch, batch 32). Same model *and the same initial weights*: nerve's
``TransformerLM``, built after ``nerve.manual_seed(seed)`` exactly as ``nerve train`` builds
it, is copied into a torch module with the same ``state_dict`` (token embedding + learned
positional embedding, 4 pre-LayerNorm ``nn.TransformerEncoderLayer`` blocks of d_model 64,
4 heads, d_ff 256, tanh-GELU, causal mask, dropout 0 -> LayerNorm -> untied Linear head;
about 217,000 parameters). Adam lr 1e-3 with a per-step cosine schedule, gradient norm
clipped at 1, 6 epochs. Prints the mean training loss and the validation loss after each
epoch, then test and validation loss in nats/char (non-overlapping 128-character windows, as
nerve's language_model task) and the wall time, for docs/results/transformer_lm.md.

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_transformer_lm.py
    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_transformer_lm.py --limit 256 --epochs 1

``--limit N`` keeps the first N training windows (as ``nerve train --limit-train N``).
``check_equivalence`` compares both frameworks on one batch and a few training steps
(tests/zoo/test_torch_lm_twins.py).
"""
from __future__ import annotations

import functools
import math
import time

import numpy
import torch
from _twin import (
    compare_training,
    load_from_nerve,
    max_diff,
    parse_and_seed,
    to_torch,
    torch_step,
    wall_line,
)
from torch import nn
from torch.nn import functional as F
from torch_char_rnn import evaluate, lm_loss

import nerve
from nerve.data import DataLoader, RandomSampler, Subset
from nerve.data.datasets import CharVocab
from nerve.models import get_model
from nerve.models.transformer_lm import TransformerLM as NerveTransformerLM
from nerve.tasks.language import Windows, _eval_windows, load_text, split_ids
from nerve.tasks.language import lm_loss as nerve_lm_loss

SETTINGS = NerveTransformerLM.train_defaults  # adam 1e-3, cosine, clip 1, batch 32, 6 epochs
CONFIG = NerveTransformerLM.default_config


class TransformerLM(nn.Module):
    """nerve's TransformerLM in torch: the same submodules, parameter names and shapes.
    torch's ``is_causal=True`` is only a hint (it needs the mask too), so the causal mask is
    a non-persistent buffer (not in the ``state_dict``)."""

    def __init__(self, vocab_size=65, block_size=128, d_model=64, layers=4, heads=4,
                 d_ff=256, dropout=0.0, tie_weights=False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(torch.zeros(block_size, d_model))
        nn.init.normal_(self.embed.weight, 0.0, 0.02)
        nn.init.normal_(self.pos, 0.0, 0.02)
        self.drop = nn.Dropout(dropout)
        gelu_tanh = functools.partial(F.gelu, approximate="tanh")
        self.blocks = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, heads, d_ff, dropout, activation=gelu_tanh,
                                       batch_first=True, norm_first=True)
            for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=not tie_weights)
        if tie_weights:
            self.head.weight = self.embed.weight
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(
            block_size), persistent=False)

    def forward(self, x):
        t = x.shape[1]
        h = self.drop(self.embed(x) + self.pos[:t])
        mask = self.causal[:t, :t]
        for block in self.blocks:
            h = block(h, src_mask=mask, is_causal=True)
        return self.head(self.norm(h))


def twin_of(nerve_model) -> TransformerLM:
    """A torch TransformerLM holding a copy of ``nerve_model``'s weights."""
    return load_from_nerve(TransformerLM(**nerve_model.config), nerve_model)


def torch_optimizer(model, epochs: int, steps_per_epoch: int, settings=SETTINGS):
    """Adam and the per-step cosine decay over the whole run, as nerve's recipes."""
    assert settings["optimizer"] == "adam" and settings["schedule"] == "cosine", settings
    opt = torch.optim.Adam(model.parameters(), lr=settings["lr"],
                           weight_decay=settings["weight_decay"])
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=max(1, epochs * steps_per_epoch))


def check_equivalence(seed: int = 0, batch: int = 4, seq_len: int | None = None,
                      steps: int = 3, **config) -> dict:
    """Build nerve's model as ``nerve train`` does (``nerve.manual_seed(seed)``, then the
    model; ``config`` overrides its default config), copy it into the twin and compare on
    random token windows: logits in eval mode, then (train mode; dropout must be 0) the
    first step's logits, loss and gradients and the parameters after ``steps`` Adam steps
    with the cosine schedule and clipping. Returns the largest absolute differences."""
    nerve.manual_seed(seed)
    n_model = get_model("transformer_lm", **config)
    model = twin_of(n_model)
    c = n_model.config
    t = seq_len or c["block_size"]
    rng = numpy.random.default_rng(seed)
    data = [tuple(rng.integers(0, c["vocab_size"], size=(2, batch, t)))
            for _ in range(steps)]
    n_model.eval()
    model.eval()
    with nerve.no_grad(), torch.no_grad():
        eval_diff = float((torch.from_numpy(n_model(nerve.tensor(data[0][0])).numpy())
                           - model(to_torch(data[0][0]))).abs().max())
    out = {"eval_logits": eval_diff}
    out.update(compare_training(n_model, model, data, nerve_lm_loss, lm_loss, SETTINGS,
                                torch_optimizer, epochs=1, steps_per_epoch=steps))
    # the key part of in_proj_bias has a zero gradient in exact arithmetic (softmax ignores
    # a shift shared by a query's scores), so Adam turns each framework's rounding noise
    # there into steps of about lr: compare the parameters without it
    d, mine = c["d_model"], dict(model.named_parameters())
    out["params_after_steps_but_key_bias"] = max(
        max_diff(_but_key_bias(k, p.data, d), _but_key_bias(k, mine[k].detach().numpy(), d))
        for k, p in n_model.named_parameters())
    return out


def _but_key_bias(name: str, value, d_model: int):
    if name.endswith("in_proj_bias"):
        return numpy.concatenate([value[:d_model], value[2 * d_model:]])
    return value


def main(argv=None):
    start = time.perf_counter()
    args = parse_and_seed(__doc__.splitlines()[0], SETTINGS["epochs"], "windows", argv)
    seq_len, batch_size = SETTINGS["seq_len"], SETTINGS["batch_size"]
    text, _ = load_text(SETTINGS["dataset"], args.data_dir)
    vocab = CharVocab(text)
    train, val, test = split_ids(vocab.encode(text))
    train = Windows(train, seq_len)
    if args.limit is not None and args.limit < len(train):
        train = Subset(train, range(args.limit))
    val, test = _eval_windows(val, seq_len), _eval_windows(test, seq_len)
    per_epoch = min(SETTINGS["windows_per_epoch"], len(train))
    loader = DataLoader(train, batch_size=batch_size, seed=args.seed,
                        sampler=RandomSampler(train, num_samples=per_epoch))
    n_model = get_model("transformer_lm", vocab_size=len(vocab), block_size=seq_len)
    model = twin_of(n_model)
    x0 = val.get_batch(numpy.arange(min(8, len(val))))[0]
    with nerve.no_grad(), torch.no_grad():
        n_model.eval()
        model.eval()
        diff = float((to_torch(n_model(nerve.tensor(x0))) - model(to_torch(x0))).abs().max())
    model.train()
    del n_model
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}; nerve's initial "
          f"weights (seed {args.seed}), max |logit difference| {diff:.2e} on 8 val windows")
    print(f"{len(train):,} training windows, {per_epoch:,} per epoch, batch {batch_size}, "
          f"{args.epochs} epochs, adam lr {SETTINGS['lr']}, cosine per step, clip "
          f"{SETTINGS['clip_grad_norm']}", flush=True)
    opt, sched = torch_optimizer(model, args.epochs, len(loader))
    clip = SETTINGS["clip_grad_norm"]
    for epoch in range(args.epochs):
        total, count = 0.0, 0
        for x, y in loader:
            x, y = to_torch(x), to_torch(y)
            total += torch_step(model, lm_loss, (x,), y, opt, sched, clip) * len(x)
            count += len(x)
        print(f"epoch {epoch + 1}: loss {total / count:.4f} val_loss "
              f"{evaluate(model, val):.4f}  {time.perf_counter() - start:.0f}s", flush=True)
    t = evaluate(model, test)
    print(f"torch transformer_lm: test {t:.4f} nats/char ({t / math.log(2):.3f} bits/char, "
          f"perplexity {math.exp(t):.2f}), val {evaluate(model, val):.4f}")
    print(wall_line(start, time.perf_counter()))


if __name__ == "__main__":
    main()
