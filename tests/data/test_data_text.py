"""Character corpora (CharVocab, CharCorpus, TextFile, TinyShakespeare) and pad_sequence."""
import hashlib

import numpy
import pytest

import nerve
from nerve.data import DataLoader, pad_sequence
from nerve.data.datasets import (
    CharCorpus,
    CharVocab,
    CorruptDataError,
    MissingDataError,
    TextFile,
    TinyShakespeare,
)

TEXT = "To be, or not to be: that is the question.\nWhether 'tis nobler in the mind\n" * 3


def test_char_vocab_round_trip_and_order():
    v = CharVocab("hello, wörld 😀")
    assert v.itos == sorted(set("hello, wörld 😀")) and len(v) == 11
    ids = v.encode("wörld😀")
    assert ids.dtype == numpy.int64 and ids.tolist() == [v.stoi[c] for c in "wörld😀"]
    assert v.decode(ids) == "wörld😀" and v.decode(nerve.tensor(ids)) == "wörld😀"
    with pytest.raises(KeyError, match=r"\['z'\]"):
        v.encode("hellz")
    with pytest.raises(ValueError, match="empty"):
        CharVocab("")


def test_corpus_windows_are_next_character_pairs():
    corpus = CharCorpus(TEXT, seq_len=8, split="all")
    assert len(corpus) == (len(TEXT) - 9) // 8 + 1
    x, y = corpus[2]
    assert corpus.decode(x) == TEXT[16:24] and corpus.decode(y) == TEXT[17:25]
    last_x, last_y = corpus[-1]
    assert len(last_x) == len(last_y) == 8
    xb, yb = corpus.get_batch(numpy.array([2, 0, len(corpus) - 1]))
    numpy.testing.assert_array_equal(xb[0], x)
    numpy.testing.assert_array_equal(yb[2], last_y)
    every = CharCorpus(TEXT, seq_len=8, split="all", stride=1)
    assert len(every) == len(TEXT) - 8
    assert every.decode(every[5][0]) == TEXT[5:13]


def test_splits_share_the_vocabulary_and_partition_the_text():
    train = CharCorpus(TEXT, seq_len=4, split="train", val_fraction=0.25)
    val = CharCorpus(TEXT, seq_len=4, split="val", val_fraction=0.25)
    n = int(len(TEXT) * 0.75)
    assert train.vocab.itos == val.vocab.itos
    assert train.decode(train.ids) == TEXT[:n] and val.decode(val.ids) == TEXT[n:]
    assert train.vocab_size == len(set(TEXT))


@pytest.mark.parametrize("kwargs, match", [({"split": "dev"}, "split"),
                                           ({"val_fraction": 1.0}, "val_fraction"),
                                           ({"seq_len": 0}, "positive"),
                                           ({"seq_len": 10_000}, "fewer than")])
def test_corpus_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CharCorpus(TEXT, **kwargs)


def test_loader_batches_of_a_corpus():
    corpus = CharCorpus(TEXT, seq_len=16, split="all")
    x, y = next(iter(DataLoader(corpus, batch_size=4, shuffle=True, seed=0)))
    assert x.shape == y.shape == (4, 16) and x.dtype == numpy.int64
    numpy.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])


def test_text_file_checks_and_reads(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    digest = hashlib.sha256(TEXT.encode()).hexdigest()
    corpus = TextFile(path, seq_len=8, split="all", sha256=digest)
    assert corpus.decode(corpus.ids) == TEXT
    with pytest.raises(CorruptDataError, match="sha256"):
        TextFile(path, sha256="0" * 64)
    path.write_bytes(b"abc\xff\xfedef" * 10)
    with pytest.raises(CorruptDataError, match="not valid utf-8 text") as info:
        TextFile(path)
    assert str(path) in str(info.value)
    with pytest.raises(MissingDataError, match="nope.txt"):
        TextFile(tmp_path / "nope.txt")


def test_tiny_shakespeare_layouts_checksum_and_download(tmp_path, monkeypatch):
    with pytest.raises(MissingDataError) as info:
        TinyShakespeare(tmp_path)
    assert "char-rnn" in str(info.value) and str(tmp_path / "tinyshakespeare") in str(info.value)
    (tmp_path / "input.txt").write_text(TEXT)
    with pytest.raises(CorruptDataError, match="sha256"):
        TinyShakespeare(tmp_path)
    assert len(TinyShakespeare(tmp_path, seq_len=8, verify=False)) > 0
    src = tmp_path / "mirror.txt"
    src.write_text(TEXT)
    monkeypatch.setattr(TinyShakespeare, "url", src.as_uri())
    monkeypatch.setattr(TinyShakespeare, "sha256", hashlib.sha256(TEXT.encode()).hexdigest())
    ds = TinyShakespeare(tmp_path / "fresh", seq_len=8, split="val", download=True)
    assert (tmp_path / "fresh" / "tinyshakespeare" / "input.txt").read_text() == TEXT
    assert ds.split == "val"


def test_pad_sequence():
    seqs = [numpy.array([1, 2, 3]), numpy.array([4]), numpy.array([5, 6])]
    batch_first = pad_sequence(seqs, batch_first=True, padding_value=-1)
    assert batch_first.tolist() == [[1, 2, 3], [4, -1, -1], [5, 6, -1]]
    time_first = pad_sequence(seqs)
    assert time_first.shape == (3, 3) and time_first[:, 1].tolist() == [4, 0, 0]
    out = pad_sequence([nerve.tensor([[1.0, 2.0]]), nerve.tensor([[3.0, 4.0], [5.0, 6.0]])],
                       batch_first=True)
    assert isinstance(out, nerve.Tensor) and out.shape == (2, 2, 2)
    assert out.tolist()[0] == [[1.0, 2.0], [0.0, 0.0]]
    torch = pytest.importorskip("torch")
    ref = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], padding_value=-1)
    numpy.testing.assert_array_equal(pad_sequence(seqs, padding_value=-1), ref.numpy())
    with pytest.raises(ValueError, match="trailing"):
        pad_sequence([numpy.zeros((2, 3)), numpy.zeros((2, 4))])
