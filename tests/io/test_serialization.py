"""nerve.save / nerve.load: round trips, the documented file layout, atomic writes, and clear
errors for corrupt files."""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import nerve
import nerve.nn as nn
from nerve.backend import dtypes
from nerve.io import CheckpointError
from nerve.io import serialization as S


def net():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 3))


def test_state_dict_round_trip_gives_identical_outputs(tmp_path):
    src, dst = net(), net()
    path = tmp_path / "model.nrv"
    nerve.save(src.state_dict(), path)
    loaded = nerve.load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(src.state_dict())
    dst.load_state_dict(loaded)
    x = nerve.randn(5, 4)
    src.eval(), dst.eval()
    np.testing.assert_array_equal(dst(x).detach().numpy(), src(x).detach().numpy())


def test_nested_checkpoint_round_trip(tmp_path):
    param = nn.Parameter(nerve.ones(2, dtype=nerve.float64))
    obj = {
        "model": net().state_dict(),
        "optimizer": {"state": {0: {"step": 3, "exp_avg": nerve.zeros(2)}},
                      "param_groups": [{"params": [0, 1], "lr": 1e-3, "betas": (0.9, 0.999),
                                        "amsgrad": False, "foreach": None}]},
        "epoch": 7, "best": float("inf"), "bad": float("nan"), "z": 1 + 2j,
        "name": "run-1 ✓", "arrays": [np.arange(6, dtype=np.int16).reshape(2, 3),
                                      np.array([True, False]), np.array(["a", "bc"])],
        "np_scalar": np.float32(2.5), "np_int": np.int64(-4), "dtype": nerve.float16,
        "device": nerve.device("cpu"), "param": param, ("pair", 1): None, 2.5: "float key",
        "empty": [], "empty_tensor": nerve.zeros(0, 3), "scalar_tensor": nerve.tensor(3.5),
    }
    path = tmp_path / "ckpt.nrv"
    nerve.save(obj, path)
    back = nerve.load(path)
    assert list(back) == list(obj)
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["optimizer"]["state"][0]["step"] == 3
    assert back["epoch"] == 7 and back["best"] == math.inf and math.isnan(back["bad"])
    assert back["z"] == 1 + 2j and back["name"] == "run-1 ✓"
    for a, b in zip(back["arrays"], obj["arrays"]):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert type(back["np_scalar"]) is np.float32 and back["np_scalar"] == 2.5
    assert type(back["np_int"]) is np.int64 and back["np_int"] == -4
    assert back["dtype"] == np.float16 and back["device"] == nerve.device("cpu")
    assert isinstance(back["param"], nn.Parameter) and back["param"].requires_grad
    assert back["param"].dtype == np.float64
    assert back[("pair", 1)] is None and back[2.5] == "float key" and back["empty"] == []
    assert back["empty_tensor"].shape == (0, 3) and back["scalar_tensor"].item() == 3.5
    assert type(back["model"]["0.weight"]) is nerve.Tensor


def test_file_is_an_npz_with_a_json_index(tmp_path):
    layer = nn.Linear(3, 3, bias=False)
    path = tmp_path / "tied.nrv"
    nerve.save({"a": layer.weight, "b": layer.weight.detach(), "c": 1}, path)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["a0", "nerve.json"]  # the shared array is stored once
        np.testing.assert_array_equal(npz["a0"], layer.weight.detach().numpy())
        index = json.loads(npz["nerve.json"])
    assert index["format"] == "nerve" and index["version"] == 1
    a, b, c = (value for _, value in index["root"]["items"])
    assert a == {"type": "tensor", "array": "a0", "dtype": "float32", "shape": [3, 3],
                 "device": "cpu", "requires_grad": True, "parameter": True}
    assert b["array"] == "a0" and c == {"type": "int", "value": 1}
    back = nerve.load(path)
    assert back["a"].data is back["b"].data  # still shared after loading


def test_file_objects_and_compression():
    buffer = io.BytesIO()
    big = np.zeros((200, 200))
    nerve.save({"x": big}, buffer, compress=True)
    assert len(buffer.getvalue()) < big.nbytes / 10
    buffer.seek(0)
    np.testing.assert_array_equal(nerve.load(buffer)["x"], big)


@pytest.mark.skipif(dtypes.bfloat16 is None, reason="ml_dtypes is not installed")
def test_bfloat16_round_trip(tmp_path):
    t = nerve.tensor([1.5, -2.0, 3.25]).to("bfloat16")
    nerve.save({"t": t}, tmp_path / "bf.nrv")
    back = nerve.load(tmp_path / "bf.nrv")["t"]
    assert back.dtype == dtypes.bfloat16 and back.to("float32").tolist() == [1.5, -2.0, 3.25]


@pytest.mark.parametrize("obj, where", [
    ({"model": nn.Linear(2, 2)}, r"obj\['model'\].*Linear.*state_dict"),
    ({"fn": print}, r"obj\['fn'\]"),
    ([np.array([object()])], r"obj\[0\].*dtype object"),
    ({object(): 1}, "key"),
])
def test_unsupported_values_fail_before_writing(tmp_path, obj, where):
    path = tmp_path / "x.nrv"
    with pytest.raises(TypeError, match=where):
        nerve.save(obj, path)
    assert list(tmp_path.iterdir()) == []


def test_cycles_are_rejected(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="cycle"):
        nerve.save(loop, tmp_path / "x.nrv")


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.nrv"
    nerve.save({"epoch": 1, "w": nerve.ones(1000)}, path)
    before = path.read_bytes()

    def failing_write_array(f, array, **kwargs):
        f.write(b"\x93NUMPY partial")  # some bytes reach the temp file, then the "crash"
        raise OSError("disk full")

    monkeypatch.setattr(S.npy_format, "write_array", failing_write_array)
    with pytest.raises(OSError, match="disk full"):
        nerve.save({"epoch": 2, "w": nerve.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert nerve.load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["ckpt.nrv"]  # no temp file left behind


def test_save_is_a_rename_of_a_synced_temp_file(tmp_path, monkeypatch):
    calls = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(S.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(S.os, "replace", lambda a, b: (calls.append(("replace", a, b)),
                                                       real_replace(a, b)))
    path = tmp_path / "m.nrv"
    nerve.save({"a": 1}, path)
    replace = [c for c in calls if c != "fsync"][0]
    assert calls[0] == "fsync" and replace[2] == str(path)
    assert os.path.dirname(replace[1]) == str(tmp_path) and replace[1] != str(path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would, not mkstemp's 0o600


def test_save_to_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nerve.save({}, tmp_path / "nope" / "x.nrv")


def corrupt_variants(good: bytes):
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF  # inside an array member: the ZIP CRC catches it
    return {"truncated": good[: len(good) // 2], "empty": b"", "bit flip": bytes(flipped),
            "not a zip": b"hello world" * 10}


@pytest.mark.parametrize("kind", ["truncated", "empty", "bit flip", "not a zip"])
def test_corrupt_files_raise_a_clear_error(tmp_path, kind):
    good_path = tmp_path / "good.nrv"
    nerve.save({"w": nerve.arange(2000).float()}, good_path)
    bad = tmp_path / "bad.nrv"
    bad.write_bytes(corrupt_variants(good_path.read_bytes())[kind])
    with pytest.raises(CheckpointError, match="bad.nrv"):
        nerve.load(bad)


def test_foreign_zip_and_bad_index(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.ones(3))
    with pytest.raises(CheckpointError, match="other.npz.*nerve.json"):
        nerve.load(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("nerve.json", json.dumps({"format": "nerve", "version": 99, "root": {}}))
    with pytest.raises(CheckpointError, match="version 99"):
        nerve.load(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        nerve.load("/nonexistent/dir/x.nrv")


def write_with_index(path, edit):
    """Save a tensor, then rewrite its JSON index through ``edit``."""
    nerve.save({"w": nerve.ones(2)}, path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    index = json.loads(members["nerve.json"])
    edit(index["root"]["items"][0][1])
    members["nerve.json"] = json.dumps(index).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_map_location(tmp_path):
    path = tmp_path / "gpu.nrv"
    write_with_index(path, lambda node: node.update(device="cuda:0"))
    if not nerve.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location='cpu'"):
            nerve.load(path)
    for location in ("cpu", nerve.device("cpu"), {"cuda:0": "cpu"}):
        assert nerve.load(path, map_location=location)["w"].device == nerve.device("cpu")
    with pytest.raises(TypeError, match="map_location"):
        nerve.load(path, map_location=5)


def test_index_that_disagrees_with_the_arrays(tmp_path):
    path = tmp_path / "lying.nrv"
    write_with_index(path, lambda node: node.update(shape=[3]))
    with pytest.raises(CheckpointError, match="shape"):
        nerve.load(path)


def test_loading_into_a_different_model_names_the_key(tmp_path):
    path = tmp_path / "m.nrv"
    nerve.save(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3)).state_dict(), path)
    other = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 5))
    with pytest.raises(RuntimeError, match=r"size mismatch for 1\.weight"):
        other.load_state_dict(nerve.load(path))
    smaller = nn.Sequential(nn.Linear(4, 8))
    with pytest.raises(RuntimeError, match=r"unexpected keys: 1\.weight, 1\.bias"):
        smaller.load_state_dict(nerve.load(path))
