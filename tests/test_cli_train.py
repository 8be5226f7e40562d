"""``nerve train / evaluate / predict / datasets`` end to end, on the embedded MNIST subset."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from nerve.data.datasets import embedded_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = ("--epochs", "1", "--limit-train", "512", "--batch-size", "64")


def nerve_cli(*args, data_home, **env):
    """Run ``python -m nerve`` offline, with an empty data folder."""
    environ = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH",
                                                                                     ""),
                   NERVE_DATA=str(data_home), NERVE_OFFLINE="1", **env)
    environ.pop("NERVE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "nerve", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=environ, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run of ``nerve train mlp`` with no dataset files and no network."""
    base = tmp_path_factory.mktemp("cli")
    out = base / "run"
    result = nerve_cli("train", "mlp", *TINY, "--out", out, data_home=base / "empty")
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result, base


def test_train_falls_back_to_the_embedded_subset_and_says_so(trained):
    out, result, _ = trained
    assert "EMBEDDED MNIST SUBSET" in result.stdout
    assert "downloads are off" in result.stdout
    assert "512 training images, 600 for validation, 1,000 test" in result.stdout
    assert "test accuracy" in result.stdout and f"wrote {out}" in result.stdout


def test_train_writes_checkpoints_history_and_metrics(trained):
    out, result, _ = trained
    for name in ("best.nrv", "last.nrv", "history.csv", "metrics.json"):
        assert (out / name).is_file(), name
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "embedded-mnist" and metrics["model"] == "mlp"
    assert metrics["train_samples"] == 512 and metrics["test_samples"] == 1000
    acc = metrics["test"]["accuracy"]
    assert 0.25 < acc <= 1.0  # 8 steps of one epoch already beat chance (0.1)
    assert f"test accuracy {100 * acc:.2f}%" in result.stdout
    assert len(metrics["test"]["per_class"]) == 10
    if (out / "curves.png").exists():  # matplotlib installed
        assert {p.name for p in out.glob("*.png")} == {"curves.png", "weights.png",
                                                       "confusion.png", "predictions.png"}


def test_evaluate_the_checkpoint(trained):
    out, _, base = trained
    metrics = json.loads((out / "metrics.json").read_text())
    result = nerve_cli("evaluate", out / "last.nrv", data_home=base / "empty")
    assert result.returncode == 0, result.stderr
    assert f"accuracy {100 * metrics['test']['accuracy']:.2f}%" in result.stdout
    assert "precision" in result.stdout and "recall" in result.stdout


def test_predict_npy_and_png_images(trained, tmp_path):
    out, _, base = trained
    test = embedded_mnist(train=False)
    paths = []
    for i in (0, 1):
        path = tmp_path / f"digit{i}.npy"
        numpy.save(path, test.data[i])
        paths.append(path)
    try:
        from PIL import Image

        Image.fromarray(test.data[0]).save(tmp_path / "digit0.png")
        paths.append(tmp_path / "digit0.png")
    except ImportError:
        pass
    result = nerve_cli("predict", out / "last.nrv", *paths, "--top", "2",
                       data_home=base / "empty")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(paths)
    for line in lines:
        assert line.count("(p=") == 2
    if len(paths) == 3:  # the PNG and the .npy of the same image give the same answer
        assert lines[0].split(": ", 1)[1] == lines[2].split(": ", 1)[1]


def test_bad_input_gives_one_clear_line(trained, tmp_path):
    out, _, base = trained
    numpy.save(tmp_path / "big.npy", numpy.zeros((32, 32), numpy.uint8))
    (tmp_path / "corrupt.nrv").write_bytes((out / "last.nrv").read_bytes()[:5000])
    cases = [
        (("train", "resnet9000"), "unknown model 'resnet9000'; available models: "),
        (("evaluate", tmp_path / "nope.nrv"), "no checkpoint at"),
        (("evaluate", tmp_path / "corrupt.nrv"), "corrupt.nrv"),
        (("predict", out / "last.nrv", tmp_path / "big.npy"),
         "is 32x32 pixels, but the model takes 28x28 images"),
        (("predict", out / "last.nrv", tmp_path / "missing.png"), "no image file at"),
        (("train", "mlp", "--dataset", "fashion-mnist"), "FashionMNIST files are not in"),
        (("train", "mlp", "--epochs", "0"), "--epochs must be at least 1"),
    ]
    for args, message in cases:
        result = nerve_cli(*args, data_home=base / "empty")
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_resume_continues_the_run(trained, tmp_path):
    out, _, base = trained
    resumed = tmp_path / "resumed"
    result = nerve_cli("train", "mlp", *TINY[2:], "--epochs", "2", "--resume",
                       out / "last.nrv", "--out", resumed, "--quiet", "--no-plots",
                       data_home=base / "empty")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics["history"]] == [1, 2]
    first = json.loads((out / "metrics.json").read_text())["history"][0]
    assert metrics["history"][0] == first  # epoch 1 comes from the checkpoint
    assert "epoch 1/2" not in result.stdout  # --quiet, and epoch 1 was not run again


def test_embedded_dataset_by_name_and_datasets_listing(tmp_path):
    result = nerve_cli("datasets", data_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "embedded-mnist" in result.stdout and "mnist_subset.npz" in result.stdout
    assert f"{tmp_path}  ($NERVE_DATA)" in result.stdout
    assert "fashion-mnist" in result.stdout


@pytest.mark.parametrize("optimizer, schedule, first_lrs", [
    ("sgd", "none", [0.1, 0.1, 0.1]),
    ("sgd", "step", [0.1, 0.01, 0.001]),        # x0.1 every third of the run
    ("adam", "exponential", [0.1, 0.08, 0.064]),
    ("nesterov", "cosine", [0.1, 0.075, 0.025]),  # per step, 2 steps an epoch, T = 6
    ("rmsprop", "onecycle", None),
    ("adamw", "plateau", [0.1, 0.1, None]),
])
def test_every_optimizer_and_schedule_name_trains(tmp_path, monkeypatch, capsys, optimizer,
                                                   schedule, first_lrs):
    from nerve import cli

    monkeypatch.setenv("NERVE_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("NERVE_OFFLINE", "1")
    out = tmp_path / "run"
    status = cli.main(["train", "mlp", "--dataset", "embedded-mnist", "--epochs", "3",
                       "--limit-train", "128", "--batch-size", "64", "--lr", "0.1",
                       "--optimizer", optimizer, "--schedule", schedule, "--quiet",
                       "--no-plots", "--out", str(out)])
    assert status == 0, capsys.readouterr()
    history = json.loads((out / "metrics.json").read_text())["history"]
    lrs = [row["lr"] for row in history]
    if first_lrs is not None:
        for got, want in zip(lrs, first_lrs):
            if want is not None:
                assert got == pytest.approx(want)
    assert all(numpy.isfinite(row["loss"]) for row in history)
