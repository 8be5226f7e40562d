"""Devices and the ``xp`` idiom (nerve/backend/device.py, nerve/backend/cuda.py)."""
import numpy as np
import pytest

import nerve
from nerve.backend import Device, device, device_of, get_array_module, to_device


def gpu_usable() -> bool:
    return nerve.cuda.is_available()


def test_cpu_device():
    cpu = device("cpu")
    assert cpu.type == "cpu" and cpu.index is None
    assert cpu.xp is np
    assert repr(cpu) == "device(type='cpu')" and str(cpu) == "cpu"
    assert device() is cpu and device(cpu) is cpu and nerve.device("cpu") is cpu


def test_device_equality_and_hash():
    cpu = device("cpu")
    assert cpu == "cpu" and cpu == Device("cpu")
    # comparing with a string never needs CuPy
    assert cpu != "cuda" and cpu != "cuda:0" and cpu != "cpu:0" and cpu != "tpu" and cpu != 3
    assert {cpu: 1}[Device("cpu")] == 1
    assert Device("cuda", 1) == Device("cuda", 1) != Device("cuda", 0)
    assert Device("cuda", 0) == "cuda" and Device("cuda", 0) == "cuda:0" != Device("cuda", 1)
    assert repr(Device("cuda", 1)) == "device(type='cuda', index=1)"
    assert str(Device("cuda", 1)) == "cuda:1"


@pytest.mark.parametrize("spec", ["cuda", "cuda:0"])
def test_cuda_without_cupy_raises_clearly(spec):
    if gpu_usable():
        pytest.skip("CuPy and a GPU are present")
    with pytest.raises(RuntimeError, match="CuPy"):
        device(spec)
    with pytest.raises(RuntimeError, match="CuPy"):
        nerve.zeros(2, device=spec)
    assert nerve.cuda.device_count() == 0


@pytest.mark.parametrize("spec, error", [("tpu", ValueError), ("cpu:0", ValueError),
                                         ("cuda:x", ValueError), (3, TypeError)])
def test_unknown_devices_raise(spec, error):
    with pytest.raises(error, match="device"):
        device(spec)


def test_get_array_module():
    t = nerve.ones(2)
    assert get_array_module(np.ones(2)) is np
    assert get_array_module(t) is np
    assert get_array_module(1.0, 2, np.float32(3)) is np
    assert get_array_module() is np


def test_device_of_and_to_device_on_cpu():
    a = np.ones(3)
    assert device_of(a) == "cpu" and device_of(np.float64(1.0)) == "cpu"
    assert to_device(a, device("cpu")) is a  # already there: no copy


def test_tensor_to_cpu_and_numpy():
    x = nerve.tensor([1.0, 2.0])
    assert x.device == device("cpu") and not x.is_cuda
    assert x.to("cpu") is x and x.cpu() is x and x.to(device("cpu")) is x
    arr = x.numpy()
    assert isinstance(arr, np.ndarray) and arr is x.data  # shared, as torch's .numpy()
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0])


def test_tensor_to_dtype_and_device_together():
    x = nerve.tensor([1.5, 2.5], requires_grad=True)
    y = x.to("cpu", nerve.float64)
    assert y.dtype == nerve.float64 and y.device == "cpu"
    y.sum().backward()
    assert x.grad.dtype == nerve.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


@pytest.mark.skipif(not nerve.cuda.is_available(), reason="needs CuPy and a GPU")
def test_round_trip_through_gpu():
    x = nerve.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cuda")
    assert y.is_cuda and y.device == "cuda:0"
    (y * y).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(y.detach().cpu().numpy(), [1.0, 2.0])
