"""The default ``nerve train word2vec`` trained by PyTorch with identical hyperparameters.

Same data and batches: nerve's own word2vec task builds them (``Word2VecTask.load``: Tiny
Shakespeare words split 90/5/5, the vocabulary of training words seen 5+ times, word2vec's
subsampling with t = 1e-3, dynamic windows of up to 5, pairs drawn once with the seed), and
nerve's seeded ``DataLoader`` (batch 1,024, a new order every epoch) draws the same 5 noise
words per pair from the unigram distribution ** 0.75; validation and test pairs use the full
window and noise words fixed by the seed. Same model and the same initial weights: nerve's
``Word2Vec`` (100-d input vectors U(-0.5/d, 0.5/d), output vectors 0), built after
``nerve.manual_seed(seed)`` exactly as ``nerve train`` builds it, is copied into a torch
module with the same ``state_dict``. Adam lr 3e-3 with a per-step linear decay to 0, no
clipping, 5 epochs, the SGNS loss (true context + 5 noise words, summed, averaged over
pairs). Prints the mean training loss and the validation loss after each epoch, then the
test loss (nats per pair) and the cosine nearest neighbours of king, love, death, lord and
night (nerve's ``nearest_neighbours``), and the wall time, for docs/results/word2vec.md.

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_word2vec.py
    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/torch_word2vec.py --limit 20000 --epochs 1

``--limit N`` keeps the first N training pairs (as ``nerve train --limit-train N``).
``check_equivalence`` compares both frameworks on one batch and a few training steps
(tests/zoo/test_torch_lm_twins.py).
"""
from __future__ import annotations

import time
from types import SimpleNamespace

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

import nerve
from nerve.models import get_model
from nerve.models.word2vec import Word2Vec as NerveWord2Vec
from nerve.models.word2vec import sgns_loss as nerve_sgns_loss
from nerve.tasks import Run
from nerve.tasks.word2vec import QUERY_WORDS, Word2VecTask, nearest_neighbours

SETTINGS = {**NerveWord2Vec.train_defaults}  # adam 3e-3, linear decay, batch 1024, 5 epochs
TEST_BATCH = 4096  # nerve's word2vec task tests in batches of 4,096 (the mean is per pair)


class Word2Vec(nn.Module):
    """nerve's Word2Vec in torch: ``input`` (v) and ``output`` (u) embeddings; scores
    u_candidate . v_center."""

    def __init__(self, vocab_size=3000, embedding_dim=100):
        super().__init__()
        self.input = nn.Embedding(vocab_size, embedding_dim)
        self.output = nn.Embedding(vocab_size, embedding_dim)
        bound = 0.5 / embedding_dim
        nn.init.uniform_(self.input.weight, -bound, bound)
        nn.init.zeros_(self.output.weight)

    def forward(self, center, candidates):
        return (self.output(candidates) * self.input(center).unsqueeze(1)).sum(-1)


def sgns_loss(scores, labels):
    """-log s(u_o . v_c) - sum_k log s(-u_k . v_c), averaged over the batch's rows."""
    return F.binary_cross_entropy_with_logits(scores, labels, reduction="sum") / len(scores)


def twin_of(nerve_model) -> Word2Vec:
    """A torch Word2Vec holding a copy of ``nerve_model``'s weights."""
    return load_from_nerve(Word2Vec(**nerve_model.config), nerve_model)


def torch_optimizer(model, epochs: int, steps_per_epoch: int, settings=SETTINGS):
    """Adam and the per-step linear decay to 0 over the whole run, as nerve's recipes."""
    assert settings["optimizer"] == "adam" and settings["schedule"] == "linear", settings
    opt = torch.optim.Adam(model.parameters(), lr=settings["lr"],
                           weight_decay=settings["weight_decay"])
    return opt, torch.optim.lr_scheduler.LinearLR(
        opt, start_factor=1.0, end_factor=0.0, total_iters=max(1, epochs * steps_per_epoch))


def load_data(seed: int = 0, data_dir=None, limit=None):
    """``(run, data)`` from nerve's own word2vec task, as ``nerve train word2vec`` makes them
    (``--limit-train`` applied by ``Run.split``)."""
    args = SimpleNamespace(data_dir=data_dir, limit_train=limit, val_split=0.0)
    run = Run(args, dict(SETTINGS), nerve.device("cpu"), None, seed)
    data = Word2VecTask().load(run)
    data.train, data.val = run.split(data.train, data.val)
    return run, data


def evaluate(model, loader) -> float:
    """The mean SGNS loss per pair over ``loader`` (batch means weighted by size, as nerve's
    ``evaluate``)."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for center, candidates, labels in loader:
            c, k, y = to_torch(center), to_torch(candidates), to_torch(labels)
            total += sgns_loss(model(c, k), y).item() * len(c)
            count += len(c)
    model.train()
    return total / count


def check_equivalence(seed: int = 0, batch: int = 64, steps: int = 3, vocab_size: int = 50,
                      embedding_dim: int = 16, negatives: int = 5) -> dict:
    """Build nerve's model after ``nerve.manual_seed(seed)``, copy it into the twin and compare
    on random (center, candidates, labels) batches: first the scores in eval mode from
    nerve's initialization (u = 0, so the scores are 0 in both), then, with the output
    vectors set to the same random values in both, the first step's scores, loss and
    gradients and the parameters after ``steps`` Adam steps with the linear schedule.
    Returns the largest absolute differences."""
    nerve.manual_seed(seed)
    n_model = get_model("word2vec", vocab_size=vocab_size, embedding_dim=embedding_dim)
    model = twin_of(n_model)
    rng = numpy.random.default_rng(seed)
    labels = numpy.zeros((batch, 1 + negatives), dtype=numpy.float32)
    labels[:, 0] = 1.0
    data = [(rng.integers(0, vocab_size, batch), rng.integers(0, vocab_size,
                                                                (batch, 1 + negatives)), labels)
            for _ in range(steps)]
    with nerve.no_grad(), torch.no_grad():
        init = max_diff(n_model(nerve.tensor(data[0][0]), nerve.tensor(data[0][1])).data,
                        model(to_torch(data[0][0]), to_torch(data[0][1])))
    u = rng.normal(0.0, 0.3, size=(vocab_size, embedding_dim)).astype(numpy.float32)
    n_model.output.weight.data[...] = u
    with torch.no_grad():
        model.output.weight.copy_(torch.from_numpy(u))
    out = {"init_scores": init}
    out.update(compare_training(n_model, model, data, nerve_sgns_loss, sgns_loss,
                                SETTINGS, torch_optimizer, epochs=1, steps_per_epoch=steps))
    return out


def main(argv=None):
    start = time.perf_counter()
    args = parse_and_seed(__doc__.splitlines()[0], SETTINGS["epochs"], "pairs", argv)
    run, data = load_data(args.seed, args.data_dir, args.limit)
    for note in data.notes:
        print(note)
    vocab = data.extra["vocab"]
    n_model = get_model("word2vec", **{k: v for k, v in data.config.items()
                                       if k in NerveWord2Vec.default_config})
    model = twin_of(n_model)
    del n_model
    loader = run.loader(data.train, shuffle=True)  # batch 1024, seeded as nerve train's
    val = run.loader(data.val, shuffle=False)
    test = run.loader(data.test, shuffle=False, batch_size=TEST_BATCH)
    s = SETTINGS
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}; nerve's initial "
          f"weights (seed {args.seed})")
    print(f"{len(data.train):,} training pairs, {len(data.val):,} validation, "
          f"{len(data.test):,} test; batch {s['batch_size']}, {args.epochs} epochs, adam lr "
          f"{s['lr']}, linear decay per step, {s['negatives']} noise words", flush=True)
    opt, sched = torch_optimizer(model, args.epochs, len(loader))
    for epoch in range(args.epochs):
        total, count = 0.0, 0
        for center, candidates, labels in loader:
            c, k, y = to_torch(center), to_torch(candidates), to_torch(labels)
            total += torch_step(model, sgns_loss, (c, k), y, opt, sched, None) * len(c)
            count += len(c)
        print(f"epoch {epoch + 1}: loss {total / count:.4f} val_loss "
              f"{evaluate(model, val):.4f}  {time.perf_counter() - start:.0f}s", flush=True)
    t = evaluate(model, test)
    found = nearest_neighbours(model.input.weight.detach().numpy(), vocab, QUERY_WORDS)
    print(f"torch word2vec: test loss {t:.4f} nats per pair (true context + "
          f"{data.test.negatives} noise words)")
    print("nearest neighbours (cosine):")
    for word, nb in found.items():
        print(f"  {word:>8}: " + ", ".join(f"{n} {c:.2f}" for n, c in nb))
    print(wall_line(start, time.perf_counter()))


if __name__ == "__main__":
    main()
