"""Module, Parameter and the containers: registration, traversal, modes, state dicts, hooks."""
from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import nerve
import nerve.nn as nn
from nerve.nn import Buffer, Module, Parameter


class Block(Module):
    """A parameter, a persistent and a non-persistent buffer, an int buffer, a child."""

    def __init__(self):
        super().__init__()
        self.scale = Parameter(nerve.ones(3))
        self.register_buffer("running", nerve.zeros(3))
        self.register_buffer("scratch", nerve.zeros(2), persistent=False)
        self.register_buffer("count", nerve.tensor(0))
        self.inner = nn.Linear(3, 3)

    def forward(self, x):
        return self.inner(x) * self.scale


class Net(Module):
    def __init__(self):
        super().__init__()
        self.a = Block()
        self.b = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    def forward(self, x):
        return self.b(self.a(x))


# ---- registration -------------------------------------------------------------------------
def test_attribute_registration():
    m = Block()
    assert list(m._parameters) == ["scale"]
    assert list(m._buffers) == ["running", "scratch", "count"]
    assert list(m._modules) == ["inner"]
    assert m.scale is m._parameters["scale"]


def test_reassignment_moves_between_registries():
    m = Block()
    m.running = Parameter(nerve.ones(3))  # a buffer becomes a parameter
    assert "running" in m._parameters and "running" not in m._buffers
    m.scratch = Parameter(nerve.ones(2))  # a non-persistent buffer as well
    assert "scratch" not in m._non_persistent
    m.count = nerve.tensor(5)  # assigning a Tensor to a buffer keeps it a buffer
    assert m._buffers["count"].item() == 5
    m.extra = Buffer(nerve.ones(1), persistent=False)
    assert "extra" in m._buffers and "extra" not in m.state_dict()
    assert type(m.extra) is nerve.Tensor
    del m.inner
    assert "inner" not in m._modules and not hasattr(m, "inner")


def test_none_slots_and_type_errors():
    layer = nn.Linear(2, 2, bias=False)
    assert "bias" in layer._parameters and layer.bias is None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="parameter 'weight'"):
        layer.weight = nerve.ones(2, 2)
    full = nn.Linear(2, 2)
    full.bias = None
    assert full._parameters["bias"] is None and list(full.state_dict()) == ["weight"]
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    seq.__setattr__("1", None)
    assert seq._modules["1"] is None and len(list(seq.children())) == 1
    with pytest.raises(AttributeError, match="nothing"):
        del seq.nothing
    with pytest.raises(TypeError, match="child module '0'"):
        setattr(seq, "0", 3)


@pytest.mark.parametrize("name", ["a.b", "", "training"])
def test_register_bad_names(name):
    with pytest.raises(KeyError):
        Module().register_buffer(name, nerve.zeros(1))


def test_register_before_init_is_a_clear_error():
    class Bad(Module):
        def __init__(self):
            self.w = Parameter(nerve.ones(1))

    with pytest.raises(AttributeError, match="super"):
        Bad()


# ---- traversal ----------------------------------------------------------------------------
def test_named_parameters_dotted_and_ordered():
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["a.scale", "a.inner.weight", "a.inner.bias", "b.0.weight", "b.0.bias",
                     "b.2.weight", "b.2.bias"]
    assert [n for n, _ in Net().a.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in Net().named_parameters(prefix="net")][0] == "net.a.scale"


def test_shared_parameters_and_modules_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    tied = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    tied[1].weight = tied[0].weight
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    # the state dict keeps every name (as torch), so it loads back into the same structure
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_buffers_children_modules():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == ["a.running", "a.scratch", "a.count"]
    assert len(list(net.buffers())) == 3
    assert [type(c).__name__ for c in net.children()] == ["Block", "Sequential"]
    assert [n for n, _ in net.named_modules()] == ["", "a", "a.inner", "b", "b.0", "b.1",
                                                   "b.2"]
    assert len(list(net.modules())) == 7
    assert net.get_submodule("b.2") is net.b[2]
    with pytest.raises(AttributeError, match="'c'"):
        net.get_submodule("b.c")


def test_train_eval_propagate_through_overrides():
    calls = []

    class Custom(Module):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    net = nn.Sequential(nn.Dropout(), nn.Sequential(Custom()))
    net.eval()
    assert not any(m.training for m in net.modules())
    assert calls == [False]
    net.train()
    assert all(m.training for m in net.modules()) and calls == [False, True]
    with pytest.raises(ValueError):
        net.train("no")


def test_zero_grad():
    net = Net()
    net(nerve.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.a.scale.grad.data[:] = np.nan
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_():
    net = Net().requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_is_post_order():
    seen = []
    net = Net()
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Block", "Linear", "ReLU", "Linear", "Sequential", "Net"]


def test_to_dtype_keeps_identity_and_integer_buffers():
    net = Net()
    net(nerve.randn(2, 3)).sum().backward()
    params = list(net.parameters())
    net.to(nerve.float64)
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert net.a.running.dtype == np.float64
    assert net.a.count.dtype == np.int64
    assert net.float() is net and net.a.scale.dtype == np.float32
    net.to("cpu", dtype=nerve.float64)
    assert net.b[0].weight.dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        net.to(nerve.int32)


# ---- printing and hooks -------------------------------------------------------------------
def test_repr_tree_matches_torch_layout():
    net = nn.Sequential(OrderedDict(fc=nn.Linear(3, 4), act=nn.ReLU(),
                                    head=nn.Sequential(nn.Dropout(0.1), nn.Linear(4, 2))))
    assert repr(net) == (
        "Sequential(\n"
        "  (fc): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (act): ReLU()\n"
        "  (head): Sequential(\n"
        "    (0): Dropout(p=0.1, inplace=False)\n"
        "    (1): Linear(in_features=4, out_features=2, bias=True)\n"
        "  )\n"
        ")")

    class WithExtra(Module):
        def __init__(self):
            super().__init__()
            self.child = nn.ReLU()

        def extra_repr(self):
            return "k=1"

    assert repr(WithExtra()) == "WithExtra(\n  k=1\n  (child): ReLU()\n)"


def test_forward_hooks_and_removal():
    layer = nn.Identity()
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    post = layer.register_forward_hook(lambda m, args, out: out + 1)
    x = nerve.ones(2)
    assert layer(x).tolist() == [3.0, 3.0]
    pre.remove()
    assert layer(x).tolist() == [2.0, 2.0]
    post.remove()
    assert layer(x).tolist() == [1.0, 1.0]
    seen = []
    with layer.register_forward_hook(lambda m, args, out: seen.append(out)):
        layer(x)
    layer(x)
    assert len(seen) == 1


# ---- containers ---------------------------------------------------------------------------
def test_sequential_indexing():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    x = nerve.randn(5, 2)
    expected = layers[2](layers[1](layers[0](x))).sigmoid()
    np.testing.assert_allclose(seq(x).detach().numpy(), expected.detach().numpy())
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[1]
    assert len(seq) == 3 and list(seq._modules) == ["0", "2", "3"]
    seq.append(nn.ReLU())
    assert list(seq._modules) == ["0", "2", "3", "4"]


def test_sequential_ordered_dict():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert seq.fc is seq[0]


def test_module_list():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU()).extend([nn.Tanh()])
    assert [type(m).__name__ for m in ml] == ["Linear"] * 3 + ["ReLU", "Tanh"]
    ml.insert(0, nn.Sigmoid())
    assert type(ml[0]).__name__ == "Sigmoid" and list(ml._modules)[-1] == "5"
    del ml[0]
    assert [type(m).__name__ for m in ml][:1] == ["Linear"] and len(ml) == 5
    ml[-1] = nn.Identity()
    assert isinstance(ml[4], nn.Identity)
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    assert len(nn.ModuleList()) == 0
    with pytest.raises(NotImplementedError):
        ml(nerve.ones(1))


def test_module_dict():
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    md["b"] = nn.Linear(2, 1)
    assert list(md) == ["a", "b"] and "b" in md and len(md) == 2
    assert list(md.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    md.update([("c", nn.ReLU())])
    assert list(md.keys()) == ["a", "b", "c"]
    assert isinstance(md.pop("c"), nn.ReLU) and "c" not in md
    del md["a"]
    assert list(md.state_dict()) == ["b.weight", "b.bias"]


# ---- state dicts --------------------------------------------------------------------------
def test_state_dict_keys_and_persistence():
    sd = Net().state_dict()
    assert list(sd) == ["a.scale", "a.running", "a.count", "a.inner.weight", "a.inner.bias",
                        "b.0.weight", "b.0.bias", "b.2.weight", "b.2.bias"]
    assert not any(v.requires_grad for v in sd.values())
    keep = Net().state_dict(keep_vars=True)
    assert isinstance(keep["a.scale"], Parameter)


def test_load_state_dict_round_trip_and_conversion():
    src, dst = Net(), Net()
    params = list(dst.parameters())
    sd = {k: v.numpy().astype(np.float64) for k, v in src.state_dict().items()}
    assert repr(dst.load_state_dict(sd)) == "<All keys matched successfully>"
    assert [id(p) for p in dst.parameters()] == [id(p) for p in params]
    assert dst.a.inner.weight.dtype == np.float32 and dst.a.count.dtype == np.int64
    x = nerve.randn(4, 3)
    np.testing.assert_array_equal(src(x).detach().numpy(), dst(x).detach().numpy())
    sd["a.scale"][0] = 123.0  # loading copied: later changes to the source do not leak in
    assert dst.a.scale[0].item() != 123.0


def _snapshot(module):
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("edit, message", [
    (lambda sd: sd.pop("b.0.bias"), "missing keys: b.0.bias"),
    (lambda sd: sd.__setitem__("extra.weight", nerve.ones(1)), "unexpected keys: extra.weight"),
    (lambda sd: sd.__setitem__("b.2.weight", nerve.ones(3, 4)),
     r"size mismatch for b\.2\.weight: copying a param with shape \(3, 4\)"),
])
def test_load_state_dict_failures_name_the_key_and_change_nothing(edit, message):
    src, dst = Net(), Net()
    before = _snapshot(dst)
    sd = src.state_dict()
    edit(sd)
    with pytest.raises(RuntimeError, match=message):
        dst.load_state_dict(sd)
    after = _snapshot(dst)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_load_state_dict_not_strict():
    src, dst = Net(), Net()
    sd = src.state_dict()
    sd.pop("a.scale")
    sd["bogus"] = nerve.ones(1)
    result = dst.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["a.scale"] and result.unexpected_keys == ["bogus"]
    np.testing.assert_array_equal(dst.b[0].weight.detach().numpy(),
                                  src.b[0].weight.detach().numpy())
    with pytest.raises(RuntimeError, match="size mismatch"):  # shapes are checked regardless
        dst.load_state_dict({"a.scale": nerve.ones(7)}, strict=False)


def test_deepcopy_keeps_registration():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.a.scale is clone.a._parameters["scale"]
    assert clone.a.scale is not net.a.scale
    x = nerve.randn(2, 3)
    np.testing.assert_array_equal(clone(x).detach().numpy(), net(x).detach().numpy())


def test_parameter_wraps_without_copy():
    t = nerve.ones(2)
    p = Parameter(t)
    assert p.requires_grad and p.data is t.data
    assert Parameter(t, requires_grad=False).requires_grad is False
    assert repr(p).startswith("Parameter containing:\n")
