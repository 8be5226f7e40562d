"""What the generative image tasks (vae, gan) share: raw image data and image grids."""
from __future__ import annotations

import math

import numpy

from ..data import Dataset


def load_raw(run, meta: dict | None = None):
    """``(ImageData, notes)`` for ``run.settings["dataset"]``: the loaders of
    ``nerve.train.recipes`` (download, embedded fallback) whose ``.data`` holds the raw uint8
    images and ``.targets`` the labels; the generative tasks scale the pixels themselves."""
    from ..train.recipes import load_image_data

    data = load_image_data(run.settings["dataset"], getattr(run.args, "data_dir", None),
                           download=not getattr(run.args, "offline", False))
    notes = []
    if data.fallback_reason:
        notes = [f"note: {data.fallback_reason.rstrip('.')}.",
                 f"note: using the EMBEDDED MNIST SUBSET shipped with nerve instead "
                 f"({len(data.train):,} training / {len(data.test):,} test images)."]
    return data, notes


def pixels(images) -> numpy.ndarray:
    """uint8 (N, H, W) images as float32 (N, 1, H, W) in [0, 1]."""
    return (numpy.asarray(images, dtype=numpy.float32) / 255.0)[:, None]


class Autoencoding(Dataset):
    """Samples ``(x, x)`` from images ``x``, so that the target of a batch is its input (an
    autoencoder's loss needs the input); ``transform`` acts on whole batches and its random
    numbers come from the loader's epoch generator (``nerve.data._rng``)."""

    def __init__(self, images: numpy.ndarray, transform=None):
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        x, _ = self.get_batch([index])
        return x[0], x[0]

    def get_batch(self, indices):
        x = self.images[numpy.asarray(indices, dtype=numpy.int64)]
        if self.transform is not None:
            x = self.transform(x)
        return x, x


def grid(images, nrow: int | None = None, pad: int = 2) -> numpy.ndarray:
    """(N, 1, H, W) or (N, H, W) images in [0, 1] tiled into one 2-D array, ``nrow`` per row
    (default: a square), ``pad`` pixels of gray between them."""
    a = numpy.asarray(images, dtype=numpy.float32)
    a = a.reshape(len(a), a.shape[-2], a.shape[-1])
    n, h, w = a.shape
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = numpy.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 0.5, numpy.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + c * (w + pad):pad + c * (w + pad) + w] = a[k]
    return numpy.clip(out, 0.0, 1.0)


def save_grid(images, path, nrow: int | None = None, title: str | None = None,
              scale: float = 0.035) -> None:
    """Write ``grid(images, nrow)`` to the PNG ``path`` (matplotlib), with a title."""
    from ..train.plots import _figure, _finish

    g = grid(images, nrow)
    fig = _figure((max(2.0, scale * g.shape[1]), scale * g.shape[0] + (0.35 if title else 0)))
    ax = fig.add_subplot()
    ax.imshow(g, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    _finish(fig, path)


def write_samples(images, meta: dict, args) -> int:
    """``nerve sample``'s output: a grid PNG at ``--out`` (a .png file, or a folder for
    samples.png), by default beside the checkpoint as CHECKPOINT-samples.png."""
    from pathlib import Path

    ckpt = Path(args.checkpoint)
    path = Path(args.out) if args.out else ckpt.with_name(f"{ckpt.stem}-samples.png")
    if path.suffix.lower() != ".png":
        path.mkdir(parents=True, exist_ok=True)
        path = path / "samples.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(images, path, title=f"{len(images)} samples of {meta.get('model', '?')} "
                                  f"({meta.get('dataset', '?')}), seed {args.seed}")
    print(f"wrote {len(images)} samples to {path}")
    return 0
