"""``python -m nerve demo`` and ``python -m nerve info`` as a user runs them."""
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import nerve
from nerve import cli

ROOT = Path(__file__).resolve().parents[1]


def run_module(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "nerve", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


def test_demo_subprocess_prints_the_worked_numbers():
    result = run_module("demo")
    assert result.returncode == 0, result.stderr
    for number in ("[[4.5, 4.5], [4.5, 4.5]]", "0.393224", "-0.589836", "-0.196612",
                   "2.05957", "1.59223", "20.9187", "93.1824", "[0., 0.]"):
        assert number in result.stdout, number


def test_info_subprocess_reports_versions_and_devices():
    result = run_module("info")
    assert result.returncode == 0, result.stderr
    assert f"nerve   {nerve.__version__}" in result.stdout
    assert f"numpy   {numpy.__version__}" in result.stdout
    assert "devices cpu" in result.stdout
    assert "blas" in result.stdout


def test_no_or_unknown_command_is_a_usage_error(capsys):
    for argv in ([], ["frobnicate"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
    assert "usage: nerve" in capsys.readouterr().err


def test_main_returns_status_and_commands_are_pluggable(capsys, monkeypatch):
    seen = []
    monkeypatch.setitem(cli.COMMANDS, "echo", (
        "test command", lambda p: p.add_argument("--times", type=int, default=1),
        lambda args: seen.append(args.times) or 3))
    assert cli.main(["echo", "--times", "2"]) == 3 and seen == [2]
    assert cli.main(["info"]) == 0
    assert "numpy" in capsys.readouterr().out
