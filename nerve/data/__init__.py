"""Data: datasets, samplers, ``DataLoader``, transforms, dataset loaders and synthetic sets.

>>> import numpy, nerve.data as data
>>> ds = data.TensorDataset(numpy.random.default_rng(0).normal(size=(10, 2)), numpy.arange(10))
>>> [tuple(x.shape) for x, _ in data.DataLoader(ds, batch_size=4)]
[(4, 2), (4, 2), (2, 2)]
"""
from . import datasets, transforms
from .dataset import (
                      ArrayDataset,
                      ChainDataset,
                      ConcatDataset,
                      Dataset,
                      IterableDataset,
                      Subset,
                      TensorDataset,
                      random_split,
)
from .datasets.download import find_shared_data
from .datasets.text import pad_sequence
from .loader import DataLoader, default_collate, default_convert
from .sampler import (
                      BatchSampler,
                      RandomSampler,
                      Sampler,
                      SequentialSampler,
                      SubsetRandomSampler,
                      WeightedRandomSampler,
)
from .transforms import compute_mean_std

__all__ = ["ArrayDataset", "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader",
           "Dataset", "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler",
           "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
           "compute_mean_std", "datasets", "default_collate", "default_convert",
           "find_shared_data", "pad_sequence", "random_split", "transforms"]
