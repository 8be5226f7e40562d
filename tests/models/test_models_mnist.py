"""The MLP and LeNet-5: shapes, parameter counts, a forward pass against PyTorch, and a
short training run on real digits whose loss falls."""
import numpy
import pytest

import nerve
import nerve.nn as nn
import nerve.optim as optim
from nerve.data import DataLoader, Subset
from nerve.data.datasets import embedded_mnist
from nerve.data.transforms import Compose, Normalize, ToTensor
from nerve.models import LeNet5, get_model
from nerve.train import evaluate, fit


def _count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, params", [
    ("mlp", 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10),
    # conv1 6*1*5*5+6, conv2 16*6*5*5+16, fc 400*120+120, 120*84+84, 84*10+10
    ("lenet", 156 + 2416 + 48120 + 10164 + 850),
])
def test_shapes_and_parameter_counts(name, params):
    model = get_model(name)
    assert _count(model) == params
    assert model(nerve.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_lenet_layer_shapes_and_input_check():
    model = LeNet5()
    x = nerve.zeros(2, 1, 28, 28)
    shapes = []
    for layer in model.features:
        x = layer(x)
        shapes.append(x.shape)
    assert shapes == [(2, 6, 28, 28), (2, 6, 28, 28), (2, 6, 14, 14), (2, 16, 10, 10),
                      (2, 16, 10, 10), (2, 16, 5, 5)]
    with pytest.raises(ValueError, match="expected images of shape .N, C, 28, 28., got "
                                         ".2, 1, 32, 32."):
        model(nerve.zeros(2, 1, 32, 32))


def test_mlp_sizes_are_configurable():
    model = get_model("mlp", in_features=12, hidden=(7, 5, 3), num_classes=4, dropout=0.0)
    assert model(nerve.zeros(2, 3, 4)).shape == (2, 4)
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_forward_matches_torch_with_the_same_weights(name):
    torch = pytest.importorskip("torch")
    nerve.manual_seed(0)
    model = get_model(name).eval()
    tnn = torch.nn
    if name == "mlp":
        ref = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Dropout(0.2),
                             tnn.Linear(512, 512), tnn.ReLU(), tnn.Dropout(0.2),
                             tnn.Linear(512, 10))
    else:
        ref = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                             tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                             tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                             tnn.Linear(84, 10))
    params = [p.detach().numpy() for p in model.parameters()]
    with torch.no_grad():
        for p, value in zip(ref.parameters(), params, strict=True):
            p.copy_(torch.from_numpy(value))
    x = numpy.random.default_rng(0).normal(size=(4, 1, 28, 28)).astype(numpy.float32)
    with torch.no_grad():
        expected = ref.eval()(torch.from_numpy(x)).numpy()
    numpy.testing.assert_allclose(model(nerve.tensor(x)).detach().numpy(), expected, rtol=1e-4,
                                  atol=1e-5)


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_a_short_run_on_real_digits_makes_the_loss_fall(name):
    nerve.manual_seed(0)
    t = Compose([ToTensor(), Normalize(0.1307, 0.3081)])
    train = Subset(embedded_mnist(True, t), range(0, 6000, 12))  # 500 images, all digits
    test = Subset(embedded_mnist(False, t), range(0, 1000, 5))
    model = get_model(name)
    before = evaluate(model, test, "cross_entropy")
    history = fit(model, DataLoader(train, batch_size=25, shuffle=True, seed=0),
                  nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                  epochs=3, progress=False)
    after = evaluate(model, test, "cross_entropy")
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] > 0.7  # chance is 0.1
