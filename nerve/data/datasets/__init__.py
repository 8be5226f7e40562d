"""Dataset loaders (real file formats, checksums, downloads) and synthetic sets."""
from .cifar import CIFAR10, read_cifar_binary, read_cifar_jpeg_tar, read_cifar_pickle
from .download import (
                       CorruptDataError,
                       DownloadError,
                       MissingDataError,
                       data_home,
                       download_url,
                       find_shared_data,
                       verify_file,
)
from .embedded import EmbeddedMNIST, embedded_mnist
from .mnist import MNIST, FashionMNIST, read_idx, write_idx
from .pairs import SentencePairs, Vocab, collate_pairs, tokenize
from .segmentation import MNISTCanvas, compose_canvases
from .synthetic import gaussian_blobs, linearly_separable, two_moons, two_spirals, xor
from .text import CharCorpus, CharVocab, TextFile, TinyShakespeare, pad_sequence

__all__ = ["CIFAR10", "CharCorpus", "CharVocab", "CorruptDataError", "DownloadError",
           "EmbeddedMNIST", "FashionMNIST", "MNIST", "MNISTCanvas", "MissingDataError",
           "SentencePairs", "TextFile", "TinyShakespeare", "Vocab", "collate_pairs",
           "compose_canvases", "data_home", "download_url",
           "embedded_mnist", "find_shared_data", "gaussian_blobs", "linearly_separable",
           "pad_sequence", "read_cifar_binary", "read_cifar_jpeg_tar", "read_cifar_pickle",
           "read_idx", "tokenize", "two_moons", "two_spirals", "verify_file", "write_idx", "xor"]
