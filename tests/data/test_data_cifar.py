"""CIFAR-10 in its binary, python-pickle and JPEG-tar layouts, on files the tests write."""
import gzip
import hashlib
import io
import os
import pickle
import sys
import tarfile

import numpy
import pytest

from nerve.data.datasets import CIFAR10, CorruptDataError, MissingDataError
from nerve.data.datasets.cifar import CLASSES, read_cifar_pickle, safe_unpickle

TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def fake(n, seed):
    rng = numpy.random.default_rng(seed)
    return (rng.integers(0, 256, size=(n, 32, 32, 3), dtype=numpy.uint8),
            rng.integers(0, 10, size=n))


def records(images, labels) -> bytes:
    chw = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return numpy.concatenate([labels.astype(numpy.uint8)[:, None], chw], axis=1).tobytes()


def pickled(images, labels, protocol=2, py2_names=False) -> bytes:
    batch = {b"batch_label": b"training batch", b"labels": [int(v) for v in labels],
             b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
             b"filenames": [b"x.png"] * len(labels)}
    data = pickle.dumps(batch, protocol=protocol)
    if py2_names:  # numpy 1.x / Python 2 pickles name numpy.core, as the official files do
        data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return data


def write_layout(root, kind, train=True, n=6, gz=False, **kw):
    names = TRAIN if train else ["test_batch"]
    folder = root / ("cifar-10-batches-bin" if kind == "bin" else "cifar-10-batches-py")
    folder.mkdir(parents=True, exist_ok=True)
    all_images, all_labels = [], []
    for k, name in enumerate(names):
        images, labels = fake(n, k)
        all_images.append(images)
        all_labels.append(labels)
        if kind == "bin":
            data = records(images, labels)
            path = folder / (name + ".bin" + (".gz" if gz else ""))
            path.write_bytes(gzip.compress(data) if gz else data)
        else:
            (folder / name).write_bytes(pickled(images, labels, **kw))
    return numpy.concatenate(all_images), numpy.concatenate(all_labels)


@pytest.mark.parametrize("kind, kw", [("bin", {}), ("bin", {"gz": True}),
                                      ("py", {"protocol": 2}), ("py", {"protocol": 4}),
                                      ("py", {"protocol": 2, "py2_names": True})])
@pytest.mark.parametrize("train", [True, False])
def test_layouts_read_the_same_images(tmp_path, kind, kw, train):
    images, labels = write_layout(tmp_path, kind, train, **kw)
    ds = CIFAR10(tmp_path, train=train, verify=False)
    assert ds.data.shape == (len(labels), 32, 32, 3) and ds.data.dtype == numpy.uint8
    numpy.testing.assert_array_equal(ds.data, images)
    numpy.testing.assert_array_equal(ds.targets, labels)
    assert ds.targets.dtype == numpy.int64 and ds.classes == CLASSES


def test_binary_record_layout_is_label_then_rgb_planes(tmp_path):
    record = bytes([3]) + bytes([10] * 1024) + bytes([20] * 1024) + bytes([30] * 1024)
    (tmp_path / "data_batch_1_first4000.bin.gz").write_bytes(gzip.compress(record * 2))
    ds = CIFAR10(tmp_path, verify=False)
    assert ds.targets.tolist() == [3, 3] and ds.data[1, 5, 7].tolist() == [10, 20, 30]
    with pytest.raises(CorruptDataError, match="sha256"):
        CIFAR10(tmp_path)  # not the shared file: its checksum is refused


def test_pickle_checksums_are_checked(tmp_path):
    write_layout(tmp_path, "py")
    with pytest.raises(CorruptDataError, match="data_batch_1.*md5"):
        CIFAR10(tmp_path)


@pytest.mark.parametrize("cut", [1, 3072, 3074])
def test_truncated_binary(tmp_path, cut):
    write_layout(tmp_path, "bin", train=False)
    path = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(CorruptDataError, match="whole number of 3073-byte") as info:
        CIFAR10(tmp_path, train=False)
    assert str(path) in str(info.value)


def test_truncated_gzip_binary(tmp_path):
    write_layout(tmp_path, "bin", train=False, gz=True)
    path = tmp_path / "cifar-10-batches-bin" / "test_batch.bin.gz"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(CorruptDataError, match="gzip"):
        CIFAR10(tmp_path, train=False)


def test_truncated_pickle(tmp_path):
    write_layout(tmp_path, "py", train=False)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CorruptDataError, match="not a readable CIFAR python batch"):
        CIFAR10(tmp_path, train=False, verify=False)


def test_incomplete_folder_names_the_missing_batch(tmp_path):
    write_layout(tmp_path, "bin")
    os.remove(tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin")
    with pytest.raises(MissingDataError, match="data_batch_3"):
        CIFAR10(tmp_path)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload, match", [
    ({"data": Evil()}, "refusing to load"),
    ({"data": numpy.array([object()], dtype=object)}, "refusing"),
    ({"data": numpy.zeros(3, numpy.uint8).view(numpy.dtype("V3"))}, "refusing")])
def test_unpickler_refuses_classes_and_object_arrays(tmp_path, payload, match):
    data = pickle.dumps(payload, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=match):
        safe_unpickle(data)
    path = tmp_path / "test_batch"
    path.write_bytes(data)
    with pytest.raises(CorruptDataError, match="unsafe"):
        read_cifar_pickle(path)


def test_unpickler_keeps_plain_data():
    arr = numpy.arange(6, dtype=">i4").reshape(2, 3)
    out = safe_unpickle(pickle.dumps({b"a": [1, 2.5, b"x", "y"], "arr": arr,
                                      "f": numpy.asfortranarray(arr.astype("<f8"))}, 2))
    assert out["a"] == [1, 2.5, b"x", "y"]
    numpy.testing.assert_array_equal(out["arr"], arr)
    numpy.testing.assert_array_equal(out["f"], arr)


def test_missing_files_say_where_and_how(tmp_path):
    with pytest.raises(MissingDataError) as info:
        CIFAR10(tmp_path)
    message = str(info.value)
    for needed in ("data_batch_1", str(tmp_path / "cifar-10-batches-py"), "download=True",
                   "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                   "cifar-10-batches-bin"):
        assert needed in message


def test_download_and_extract_a_local_archive(tmp_path):
    src = tmp_path / "src"
    images, labels = write_layout(src, "py", train=False)
    local = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(local, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    md5 = hashlib.md5(local.read_bytes()).hexdigest()

    class LocalCIFAR(CIFAR10):
        archive = ("cifar-10-python.tar.gz", md5, local.as_uri())

    ds = LocalCIFAR(tmp_path / "root", train=False, download=True, verify=False)
    numpy.testing.assert_array_equal(ds.data, images)
    assert (tmp_path / "root" / "cifar-10-batches-py" / "test_batch").is_file()


def jpeg_tar(path, images, labels):
    """Write the tar; return the images as Pillow decodes its JPEGs."""
    from PIL import Image

    counters, decoded = [0] * 10, []
    with tarfile.open(path, "w:gz") as tar:
        for img, lab in zip(images, labels):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=75)
            decoded.append(numpy.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
            info = tarfile.TarInfo(f"test/{CLASSES[lab]}/{counters[lab]:04d}.jpg")
            counters[lab] += 1
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    return numpy.stack(decoded)


def test_jpeg_tarball(tmp_path):
    pytest.importorskip("PIL")
    images, labels = fake(12, 3)
    decoded = jpeg_tar(tmp_path / "cifar10_test_jpg.tar.gz", images, labels)
    ds = CIFAR10(tmp_path, train=False, verify=False)
    order = numpy.lexsort((numpy.arange(12), labels))  # sorted by class, then file number
    numpy.testing.assert_array_equal(ds.targets, labels[order])
    assert ds.data.shape == (12, 32, 32, 3)
    numpy.testing.assert_array_equal(ds.data, decoded[order])


def test_jpeg_tarball_without_pillow(tmp_path, monkeypatch):
    (tmp_path / "cifar10_test_jpg.tar.gz").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="needs Pillow"):
        CIFAR10(tmp_path, train=False, verify=False)
