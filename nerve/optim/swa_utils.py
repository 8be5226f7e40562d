"""Weight averaging, as ``torch.optim.swa_utils``: ``AveragedModel`` keeps a running average
of a model's weights, either the plain mean of stochastic weight averaging (P. Izmailov et
al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018) or an
exponential moving average (``get_ema_multi_avg_fn``; for GAN generators, Y. Yazici et al.,
"The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019).
"""
from __future__ import annotations

import copy

from ..autograd.tensor import Tensor
from ..backend import get_array_module
from ..nn.module import Module


def get_ema_multi_avg_fn(decay: float = 0.999, warmup: bool = False):
    """The exponential moving average ``avg <- decay * avg + (1 - decay) * new`` as an
    ``AveragedModel`` ``multi_avg_fn`` (it updates the averaged arrays in place).

    ``warmup=True`` (a nerve extension, as TensorFlow's ``ExponentialMovingAverage`` with
    ``num_updates``) uses ``min(decay, (1 + n) / (10 + n))`` at the n-th update, so that the
    first, far-from-trained weights fade out quickly instead of weighing on the average for
    thousands of steps.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"get_ema_multi_avg_fn: decay must be in [0, 1], got {decay}")

    def ema_update(averaged, current, num_averaged):
        d = min(decay, (1 + num_averaged) / (10 + num_averaged)) if warmup else decay
        for avg, new in zip(averaged, current):
            avg *= d
            avg += (1.0 - d) * new

    return ema_update


def _mean_update(averaged, current, num_averaged):
    for avg, new in zip(averaged, current):
        avg += (new - avg) / (num_averaged + 1)


class AveragedModel(Module):
    """A copy of ``model`` whose weights are the average of the weights ``update_parameters``
    has seen (the first call copies them). Calling it runs the copy.

    ``multi_avg_fn(averaged_arrays, current_arrays, num_averaged)`` updates the averaged arrays
    in place; the default is the equal-weight mean (SWA). With ``use_buffers=True`` the float
    buffers (batch-norm statistics) are averaged too; otherwise they are copied from ``model``.

    >>> import nerve
    >>> net = nerve.nn.Linear(2, 1)
    >>> ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    >>> ema.update_parameters(net)
    >>> bool((ema.module.weight == net.weight).all())
    True
    """

    def __init__(self, model: Module, device=None, multi_avg_fn=None, use_buffers: bool = False):
        super().__init__()
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: expected a nerve.nn.Module, got "
                            f"{type(model).__name__}")
        self.module = copy.deepcopy(model)
        self.module.requires_grad_(False)
        if device is not None:
            self.module.to(device)
        self.multi_avg_fn = multi_avg_fn or _mean_update
        self.use_buffers = use_buffers
        self.register_buffer("n_averaged", Tensor(0))

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tracked(self, model: Module):
        """The (averaged, current) tensors to average, and the buffers to copy."""
        mine, theirs = list(self.module.parameters()), list(model.parameters())
        copied = list(zip(self.module.buffers(), model.buffers()))
        if self.use_buffers:
            floats = [(a, b) for a, b in copied if a.data.dtype.kind == "f"]
            mine += [a for a, _ in floats]
            theirs += [b for _, b in floats]
            copied = [(a, b) for a, b in copied if a.data.dtype.kind != "f"]
        if len(mine) != len(theirs) or any(a.shape != b.shape for a, b in zip(mine, theirs)):
            raise ValueError("AveragedModel.update_parameters: the model's parameters do not "
                             "match the averaged copy's (expected the model it was built from)")
        return mine, theirs, copied

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average."""
        mine, theirs, copied = self._tracked(model)
        xp = get_array_module(mine[0].data) if mine else None
        current = [xp.asarray(b.data, dtype=a.data.dtype) for a, b in zip(mine, theirs)]
        n = int(self.n_averaged.item())
        if n == 0:
            for a, new in zip(mine, current):
                a.data[...] = new
        else:
            self.multi_avg_fn([a.data for a in mine], current, n)
        for a, b in copied:
            a.data[...] = b.data
        self.n_averaged.data[...] = n + 1
