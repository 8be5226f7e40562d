"""Sentence pairs: tokenizer, Vocab, filtering, deterministic splits, collate."""
import numpy
import pytest

from nerve.data import DataLoader
from nerve.data.datasets import (
    CorruptDataError,
    MissingDataError,
    SentencePairs,
    Vocab,
    collate_pairs,
    tokenize,
)

LINES = ["Go.\tVa !", "Go.\tMarche.", "Hi.\tSalut !", "Run!\tCours\u202f!", "Wow!\tÇa alors\u00a0!",
         "I'm OK.\tÇa va.", "Who ran?\tQui a couru ?", "I lost.\tJ'ai perdu.\tCC-BY 2.0 (x)",
         "We try.\tOn essaye.", "It's a very long sentence indeed.\tC'est une très longue phrase.",
         "Help!\tÀ l'aide !", "Stop!\tArrête-toi !"]


def write(tmp_path, lines=LINES, name="fra.txt"):
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")  # no final newline, like the real file
    return path


@pytest.mark.parametrize("text, tokens", [
    ("Cours\u202f!", ["cours", "!"]), ("Ça alors\u00a0!", ["ça", "alors", "!"]),
    ("J'ai perdu.", ["j", "'", "ai", "perdu", "."]), ("C’est", ["c", "'", "est"]),
    ("Arrête-toi !", ["arrête", "-", "toi", "!"]), ("  Hi,  there ", ["hi", ",", "there"]),
    ("Cafe\u0301", ["café"])])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_vocab_specials_frequency_order_and_unknowns():
    v = Vocab.build([["b", "a", "b"], ["c", "a", "b"], ["d"]], min_freq=2)
    assert v.itos == ["<pad>", "<sos>", "<eos>", "<unk>", "b", "a"]
    assert (v.pad_index, v.sos_index, v.eos_index, v.unk_index) == (0, 1, 2, 3)
    assert v.encode(["a", "zzz"], sos=True, eos=True) == [1, 5, 3, 2]
    assert v["b"] == 4 and v["nope"] == 3 and "a" in v and "d" not in v
    assert v.decode([1, 5, 4, 2, 4, 0]) == ["a", "b"]
    assert v.decode([1, 5, 2, 0], stop_at_eos=False, skip_specials=False) == \
        ["<sos>", "a", "<eos>", "<pad>"]
    assert len(Vocab.build([["x", "y", "z"]], max_size=2)) == 6
    with pytest.raises(ValueError, match="start with"):
        Vocab(["a", "<pad>"])


def test_pairs_encode_with_sos_eos_and_share_train_vocab(tmp_path):
    path = write(tmp_path)
    ds = SentencePairs(path, split="all")
    assert len(ds) == len(LINES)
    src, tgt = ds[3]
    assert ds.src_vocab.decode(src) == ["run", "!"] and src[-1] == Vocab.eos_index
    assert tgt[0] == Vocab.sos_index and ds.tgt_vocab.decode(tgt) == ["cours", "!"]
    assert src.dtype == tgt.dtype == numpy.int64
    assert ds.sentence(7) == ("i lost .", "j ' ai perdu .")  # the attribution column is dropped


def test_splits_are_deterministic_disjoint_by_source_and_complete(tmp_path):
    path = write(tmp_path)
    parts = {s: SentencePairs(path, split=s, splits=(0.5, 0.25, 0.25), seed=1)
             for s in ("train", "val", "test")}
    again = SentencePairs(path, split="val", splits=(0.5, 0.25, 0.25), seed=1)
    assert again.pairs == parts["val"].pairs
    sources = {s: {" ".join(a) for a, _ in p.pairs} for s, p in parts.items()}
    assert not sources["train"] & sources["val"] and not sources["train"] & sources["test"]
    assert sum(len(p) for p in parts.values()) == len(LINES)
    go = [s for s, p in parts.items() if "go ." in sources[s]]
    assert len(go) == 1 and sum(" ".join(a) == "go ." for a, _ in parts[go[0]].pairs) == 2
    other_seed = SentencePairs(path, split="train", splits=(0.5, 0.25, 0.25), seed=2)
    assert other_seed.pairs != parts["train"].pairs
    vocab_words = set(parts["train"].src_vocab.itos[4:])
    assert vocab_words == {t for a, _ in parts["train"].pairs for t in a}


def test_max_len_reverse_filter_min_freq(tmp_path):
    path = write(tmp_path)
    short = SentencePairs(path, split="all", max_len=3)
    assert all(len(a) <= 3 and len(b) <= 3 for a, b in short.pairs)
    assert len(short) == 6
    rev = SentencePairs(path, split="all", reverse=True)
    assert rev.sentence(3) == ("cours !", "run !")
    only_go = SentencePairs(path, split="all", filter_fn=lambda a, b: a[0] == "go")
    assert len(only_go) == 2
    frequent = SentencePairs(path, split="all", min_freq=2)
    assert "!" in frequent.src_vocab and "wow" not in frequent.src_vocab
    with pytest.raises(ValueError, match="no pairs left"):
        SentencePairs(path, max_len=0)


def test_collate_pads_batch_first(tmp_path):
    ds = SentencePairs(write(tmp_path), split="all")
    loader = DataLoader(ds, batch_size=4, collate_fn=SentencePairs.collate)
    src, src_len, tgt, tgt_len = next(iter(loader))
    assert src.shape == (4, max(src_len.tolist())) and tgt.shape == (4, max(tgt_len.tolist()))
    assert src_len.tolist() == [len(ds[i][0]) for i in range(4)]
    row = src.numpy()[1]
    assert (row[src_len.tolist()[1]:] == Vocab.pad_index).all()
    same = collate_pairs([ds[0], ds[1], ds[2], ds[3]])
    numpy.testing.assert_array_equal(same[2].numpy(), tgt.numpy())


def test_corrupt_and_missing_files(tmp_path):
    bad = write(tmp_path, LINES[:3] + ["no tab here"], name="bad.txt")
    with pytest.raises(CorruptDataError, match=r"bad.txt:4 is not 'source<TAB>target'"):
        SentencePairs(bad)
    (tmp_path / "latin1.txt").write_bytes("Go.\tVa à\n".encode("latin-1"))
    with pytest.raises(CorruptDataError, match="utf-8"):
        SentencePairs(tmp_path / "latin1.txt")
    with pytest.raises(MissingDataError) as info:
        SentencePairs(root=tmp_path / "empty")
    assert "fra.txt" in str(info.value) and "manythings" in str(info.value)
    (tmp_path / "tatoeba-fra-eng").mkdir()
    write(tmp_path / "tatoeba-fra-eng")
    assert len(SentencePairs(root=tmp_path, split="all")) == len(LINES)
