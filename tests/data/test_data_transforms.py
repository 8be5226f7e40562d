"""Transforms: values against NumPy (and PyTorch where installed), batch == per-sample,
seeding, and the standardization helpers."""
import numpy
import pytest

import nerve
from nerve.data import ArrayDataset, Dataset, TensorDataset, compute_mean_std
from nerve.data import transforms as T

RNG = numpy.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(8, 5, 6, 3), dtype=numpy.uint8)  # NHWC
GRAY = RNG.integers(0, 256, size=(8, 5, 6), dtype=numpy.uint8)  # NHW


@pytest.mark.parametrize("batch", [IMAGES, GRAY])
def test_to_tensor_scales_and_moves_channels_first(batch):
    out = T.ToTensor().batch(batch)
    ref = batch.astype(numpy.float32) / numpy.float32(255)
    ref = ref[:, None] if batch.ndim == 3 else ref.transpose(0, 3, 1, 2)
    assert out.dtype == numpy.float32 and out.flags.c_contiguous
    numpy.testing.assert_array_equal(out, ref)
    numpy.testing.assert_array_equal(T.ToTensor()(batch[2]), ref[2])
    torch = pytest.importorskip("torch")
    expected = torch.from_numpy(batch).float().div(255).numpy()
    expected = expected[:, None] if batch.ndim == 3 else expected.transpose(0, 3, 1, 2)
    numpy.testing.assert_array_equal(out, expected)


def test_to_tensor_keeps_float_values_and_rejects_bad_shapes():
    x = numpy.full((2, 2), 3.5, dtype=numpy.float64)
    assert T.ToTensor()(x).tolist() == [[[3.5, 3.5], [3.5, 3.5]]]
    with pytest.raises(ValueError, match=r"ToTensor: expected an image"):
        T.ToTensor()(numpy.zeros(4))
    with pytest.raises(ValueError, match="batch of images"):
        T.ToTensor().batch(numpy.zeros((2, 2)))


def test_normalize_per_channel_sample_and_batch():
    x = T.ToTensor().batch(IMAGES)
    mean, std = [0.1, 0.5, 0.9], [0.2, 0.3, 0.4]
    norm = T.Normalize(mean, std)
    ref = (x - numpy.array(mean, numpy.float32)[:, None, None]) / \
        numpy.array(std, numpy.float32)[:, None, None]
    numpy.testing.assert_allclose(norm.batch(x), ref, rtol=1e-6, atol=1e-6)
    numpy.testing.assert_allclose(norm(x[3]), ref[3], rtol=1e-6, atol=1e-6)
    assert norm.batch(x).dtype == numpy.float32
    numpy.testing.assert_allclose(T.Normalize(0.5, 0.25)(x[0]), (x[0] - 0.5) * 4, atol=1e-6)


@pytest.mark.parametrize("make, x, err, match", [
    (lambda: T.Normalize([0.5], [0.0]), None, ValueError, "non-zero"),
    (lambda: T.Normalize([0.1, 0.2], [1, 1]), numpy.zeros((3, 2, 2), numpy.float32),
     ValueError, "2 channel statistics"),
    (lambda: T.Normalize(0.5, 0.5), numpy.zeros((1, 2, 2), numpy.uint8), TypeError,
     "ToTensor first")])
def test_normalize_errors(make, x, err, match):
    with pytest.raises(err, match=match):
        make()(x)


def windows_of(padded, h, w):
    H, W = padded.shape[-2:]
    return [padded[..., i:i + h, j:j + w] for i in range(H - h + 1) for j in range(W - w + 1)]


def is_window(crop, padded):
    return any(numpy.array_equal(crop, win) for win in windows_of(padded, *crop.shape[-2:]))


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_random_crop_batch_takes_a_window_of_each_padded_sample(mode):
    x = T.ToTensor().batch(IMAGES)
    crop = T.RandomCrop((4, 5), padding=2, padding_mode=mode, fill=0.5, seed=0)
    out = crop.batch(x)
    assert out.shape == (8, 3, 4, 5) and out.flags.c_contiguous
    kw = {"constant_values": 0.5} if mode == "constant" else {}
    padded = numpy.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)], mode=mode, **kw)
    for n in range(len(x)):
        assert is_window(out[n], padded[n])
    assert len({out[n].tobytes() for n in range(8)}) > 1
    assert is_window(crop(x[0]), padded[0])


def test_random_crop_four_sided_padding_and_seed():
    x = numpy.arange(12, dtype=numpy.float32).reshape(1, 3, 4)
    full = T.RandomCrop((3 + 2 + 4, 4 + 1 + 3), padding=(1, 2, 3, 4), seed=0)(x)
    numpy.testing.assert_array_equal(full, numpy.pad(x, [(0, 0), (2, 4), (1, 3)]))
    a = T.RandomCrop(2, padding=1, seed=5).batch(numpy.repeat(x[None], 6, 0))
    b = T.RandomCrop(2, padding=1, seed=5).batch(numpy.repeat(x[None], 6, 0))
    numpy.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(6)(x)
    with pytest.raises(ValueError, match="padding"):
        T.RandomCrop(2, padding=(1, 2, 3))


def test_horizontal_flip():
    x = T.ToTensor().batch(GRAY)
    numpy.testing.assert_array_equal(T.RandomHorizontalFlip(1.0).batch(x), x[..., ::-1])
    numpy.testing.assert_array_equal(T.RandomHorizontalFlip(0.0).batch(x), x)
    numpy.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x[0]), x[0][..., ::-1])
    big = numpy.repeat(x[:1], 400, 0)
    out = T.RandomHorizontalFlip(0.5, seed=1).batch(big)
    flipped = numpy.array([numpy.array_equal(o, x[0][..., ::-1]) for o in out])
    kept = numpy.array([numpy.array_equal(o, x[0]) for o in out])
    assert numpy.all(flipped ^ kept) and 150 < flipped.sum() < 250
    with pytest.raises(ValueError, match="p must"):
        T.RandomHorizontalFlip(1.5)


def test_gaussian_noise_statistics_clip_and_dtype():
    x = numpy.zeros((200, 50), dtype=numpy.float32)
    out = T.GaussianNoise(0.5, seed=0).batch(x)
    assert out.dtype == numpy.float32
    assert abs(out.mean()) < 0.01 and abs(out.std() - 0.5) < 0.01
    clipped = T.GaussianNoise(1.0, clip=(-0.1, 0.1), seed=0)(x)
    assert clipped.min() >= -0.1 and clipped.max() <= 0.1
    with pytest.raises(TypeError, match="ToTensor first"):
        T.GaussianNoise(0.1)(numpy.zeros(3, numpy.uint8))


def test_random_transforms_use_nerve_seed_not_numpy_global():
    x = numpy.zeros((4, 6), numpy.float32)
    nerve.manual_seed(1)
    numpy.random.seed(0)
    a = T.GaussianNoise(1.0)(x)
    nerve.manual_seed(1)
    numpy.random.seed(99)
    numpy.testing.assert_array_equal(T.GaussianNoise(1.0)(x), a)


def test_lambda_flatten_compose():
    double = T.Lambda(lambda v: v * 2, batch_fn=lambda b: b * 2 + 0)
    assert double(numpy.ones(2)).tolist() == [2, 2]
    pipeline = T.Compose([T.ToTensor(), T.Flatten(), double])
    out = pipeline.batch(GRAY)
    numpy.testing.assert_array_equal(out, numpy.stack([pipeline(g) for g in GRAY]))
    assert out.shape == (8, 30)
    per_sample = T.Lambda(lambda v: v.sum())
    numpy.testing.assert_allclose(per_sample.batch(out), out.sum(axis=1))
    assert "ToTensor" in repr(pipeline)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


def test_compute_mean_std_matches_numpy_for_arrays_and_datasets():
    x = T.ToTensor().batch(IMAGES).astype(numpy.float64)
    mean, std = compute_mean_std(x, batch_size=3)  # several batches: Chan's merge
    numpy.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    numpy.testing.assert_allclose(std, x.std(axis=(0, 2, 3)), rtol=1e-12)
    m, s = compute_mean_std(x, channel_axis=None, batch_size=5)
    assert m == pytest.approx(x.mean()) and s == pytest.approx(x.std())
    ds = ArrayDataset(IMAGES, numpy.zeros(8), transform=T.ToTensor())
    m2, s2 = compute_mean_std(ds, batch_size=3)
    numpy.testing.assert_allclose(m2, mean, rtol=1e-6)
    numpy.testing.assert_allclose(s2, std, rtol=1e-6)

    class Plain(Dataset):  # no get_batch: per-sample path
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return x[i], 0

    numpy.testing.assert_allclose(compute_mean_std(Plain(), batch_size=3)[1], std, rtol=1e-12)
    feats = numpy.random.default_rng(1).normal(3.0, 2.0, size=(100, 4))
    m3, s3 = compute_mean_std(TensorDataset(feats, numpy.zeros(100)), batch_size=7)
    numpy.testing.assert_allclose(m3, feats.mean(0), rtol=1e-12)
    numpy.testing.assert_allclose(s3, feats.std(0), rtol=1e-12)
    with pytest.raises(ValueError, match="empty"):
        compute_mean_std(numpy.zeros((0, 3)))


def test_normalize_from_data_standardizes():
    x = T.ToTensor().batch(IMAGES)
    out = T.Normalize.from_data(x).batch(x)
    numpy.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    numpy.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
