"""The segnet_small of ``nerve train segnet_small`` trained by PyTorch with identical
hyperparameters.

Same data (nerve's ``MNISTCanvas``: 6,000 64x64 training canvases of 1-3 MNIST training digits,
of which the same 5,400 as nerve's default --val-split 0.1 with seed 0 are trained on; the
1,000 test canvases of MNIST test digits), same model (3 stages of 16/32/64 channels, 3x3
conv without bias - BatchNorm - ReLU, 2x2 max pooling with indices, max-unpooling in the
decoder, 1x1 classifier), same loss (per-pixel cross-entropy with nerve's median frequency
weights of the training part), Adam lr 0.01, per-step cosine decay to 0, batch 32, 5 epochs.
Prints the test mean IoU (nerve's ``mean_iou`` on the confusion matrix, so the same
definition) and the wall time, for docs/results/segnet_small.md.

    OMP_NUM_THREADS=1 python bench/torch_segnet_small.py --epochs 5
"""
from __future__ import annotations

import argparse
import time

import numpy
import torch
from torch import nn
from torch.nn import functional as F

from nerve.data import random_split
from nerve.data.datasets import MNISTCanvas
from nerve.tasks.segment import iou_per_class, mean_iou, median_frequency_weights


def stage(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU())


class SegNetSmall(nn.Module):
    def __init__(self, in_channels=1, num_classes=11, channels=(16, 32, 64)):
        super().__init__()
        ins = (in_channels,) + channels[:-1]
        outs = (channels[0],) + channels[:-1]
        self.encoders = nn.ModuleList([stage(a, b) for a, b in zip(ins, channels)])
        self.decoders = nn.ModuleList([stage(b, a) for a, b in zip(outs, channels)])
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)
        self.classifier = nn.Conv2d(channels[0], num_classes, 1)

    def forward(self, x):
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            size = x.shape[2:]
            x, indices = self.pool(x)
            skips.append((indices, size))
        for decoder, (indices, size) in zip(reversed(self.decoders), reversed(skips)):
            x = decoder(self.unpool(x, indices, output_size=size))
        return self.classifier(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    train_set, test_set = MNISTCanvas(True), MNISTCanvas(False)
    part, _ = random_split(train_set, [5400, 600], seed=args.seed)
    weights = median_frequency_weights(part, 11)
    x_train, y_train = (torch.from_numpy(a) for a in part.get_batch(numpy.arange(len(part))))
    x_test, y_test = (torch.from_numpy(a) for a in test_set.get_batch(numpy.arange(1000)))
    model = SegNetSmall()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    steps = (len(x_train) + 31) // 32
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps)
    w = torch.tensor(weights, dtype=torch.float32)
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        t, total = time.perf_counter(), 0.0
        for idx in torch.randperm(len(x_train), generator=gen).split(32):
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx], weight=w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        model.eval()
        cm = numpy.zeros((11, 11), numpy.int64)
        with torch.no_grad():
            for start in range(0, 1000, 100):
                pred = model(x_test[start:start + 100]).argmax(1).numpy().ravel()
                true = y_test[start:start + 100].numpy().ravel()
                cm += numpy.bincount(true * 11 + pred, minlength=121).reshape(11, 11)
        print(f"epoch {epoch + 1}: loss {total / len(x_train):.4f}  test mean IoU "
              f"{mean_iou(cm):.4f} (digits {mean_iou(cm, skip_background=True):.4f}), pixel "
              f"accuracy {numpy.trace(cm) / cm.sum():.4f}  {time.perf_counter() - t:.0f}s",
              flush=True)
    print("per-class IoU:", numpy.round(iou_per_class(cm), 4).tolist())
    print(f"wall time {time.perf_counter() - started:.0f}s "
          f"(torch {torch.__version__}, {torch.get_num_threads()} thread(s))")


if __name__ == "__main__":
    main()
