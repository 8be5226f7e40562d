"""examples/_common.py: result records, atomic JSON, figures skipped without matplotlib."""
import json
import sys

import numpy
import pytest
from _load import load_example


@pytest.fixture(scope="module")
def common():
    module = load_example("_common")
    return module


def test_write_result_is_json_safe_and_complete(common, tmp_path):
    record = common.write_result(tmp_path, "demo", data="d", metric="m",
                                 value=numpy.float32(0.5), wall_time_s=1.23456, quick=True,
                                 details={"a": numpy.arange(3), "bad": float("nan")})
    on_disk = json.loads((tmp_path / "result.json").read_text())
    assert on_disk == record
    assert record["command"] == "python examples/demo.py --quick"
    assert record["value"] == 0.5 and record["wall_time_s"] == 1.235
    assert record["details"] == {"a": [0, 1, 2], "bad": "nan"}
    assert list(tmp_path.iterdir()) == [tmp_path / "result.json"]  # no temporary file left


def test_figures_are_skipped_with_a_note_without_matplotlib(common, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    fig, ax = common.figure()
    assert (fig, ax) == (None, None)
    assert common.save(fig, "never.png") is None
    assert "matplotlib is not installed" in capsys.readouterr().out


def test_main_for_parses_quick_and_out(common, tmp_path, capsys):
    seen = {}

    def run(quick=False, out=None):
        seen.update(quick=quick, out=out)
        return common.write_result(common.out_dir(out, "x"), "x", data="", metric="m",
                                   value=1, wall_time_s=0.0, quick=quick)

    common.main_for(run, "x", ["--quick", "--out", str(tmp_path / "o")])
    assert seen == {"quick": True, "out": str(tmp_path / "o")}
    assert "x: m = 1" in capsys.readouterr().out
