"""Downloads (local file:// URLs and fake openers only: never the network), checksums,
archive extraction, the data folders."""
import hashlib
import io
import sys
import tarfile
import types
import urllib.error

import pytest

from nerve.data.datasets import download as dl


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


class FakeResponse(io.BytesIO):
    def __init__(self, body, length=None):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) if length is None else length)}


def test_download_url_from_file_uri_is_verified_and_atomic(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 5000)
    dest = tmp_path / "out" / "file.bin"
    dl.download_url(src.as_uri(), dest, sha256=sha(b"x" * 5000), progress=False)
    assert dest.read_bytes() == b"x" * 5000 and leftovers(dest.parent) == []
    md5 = hashlib.md5(b"x" * 5000).hexdigest()
    dl.download_url(src.as_uri(), tmp_path / "again.bin", md5=md5, progress=False)


def test_checksum_mismatch_leaves_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    dest = tmp_path / "dest.bin"
    with pytest.raises(dl.CorruptDataError, match="sha256 check") as info:
        dl.download_url(src.as_uri(), dest, sha256="0" * 64, progress=False)
    assert src.as_uri() in str(info.value)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_short_read_is_detected(tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "urlopen", lambda req, timeout: FakeResponse(b"12345", length=9))
    with pytest.raises(dl.DownloadError, match="cut short: got 5 of 9"):
        dl.download_url("https://example.invalid/f", tmp_path / "f", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_network_errors_name_the_url(tmp_path, monkeypatch):
    def refuse(req, timeout):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(dl, "urlopen", refuse)
    with pytest.raises(dl.DownloadError, match="https://example.invalid/a.gz.*no network"):
        dl.download_url("https://example.invalid/a.gz", tmp_path / "a.gz", progress=False)


def test_download_files_tries_mirrors_in_order(tmp_path, monkeypatch):
    tried = []

    def opener(req, timeout):
        tried.append(req.full_url)
        if "first" in req.full_url:
            raise urllib.error.URLError("down")
        return FakeResponse(b"data")

    monkeypatch.setattr(dl, "urlopen", opener)
    dl.download_files("T", tmp_path, [("f.bin", {"sha256": sha(b"data")})],
                      ["https://first.invalid/", "https://second.invalid/"], progress=False)
    assert tried == ["https://first.invalid/f.bin", "https://second.invalid/f.bin"]
    assert (tmp_path / "f.bin").read_bytes() == b"data"
    dl.download_files("T", tmp_path, [("f.bin", {})], ["https://first.invalid/"])  # present
    assert len(tried) == 2
    with pytest.raises(dl.DownloadError, match="put g.bin in"):
        dl.download_files("T", tmp_path, [("g.bin", {})], ["https://first.invalid/"],
                          progress=False)


def test_progress_falls_back_to_two_plain_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # "not installed"
    monkeypatch.setattr(dl, "urlopen", lambda req, timeout: FakeResponse(b"z" * 2048))
    dl.download_url("https://example.invalid/z", tmp_path / "z")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("downloading z") and "done" in err[1]


def test_progress_uses_tqdm_when_installed(tmp_path, monkeypatch):
    seen = {}

    class FakeTqdm:
        def __init__(self, **kwargs):
            seen.update(kwargs, n=0)

        def update(self, n):
            seen["n"] += n

        def close(self):
            seen["closed"] = True

    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=FakeTqdm))
    monkeypatch.setattr(dl, "urlopen", lambda req, timeout: FakeResponse(b"q" * 3000))
    dl.download_url("https://example.invalid/q", tmp_path / "q")
    assert seen["n"] == 3000 and seen["total"] == 3000 and seen["closed"]
    assert seen["disable"] is None  # quiet when not on a terminal


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_extract_tar(tmp_path):
    archive = tmp_path / "a.tar.gz"
    make_tar(archive, [("pkg/one.txt", b"1"), ("pkg/sub/two.txt", b"22")])
    dl.extract_tar(archive, tmp_path / "dest")
    assert (tmp_path / "dest" / "pkg" / "sub" / "two.txt").read_bytes() == b"22"
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["pkg"]


@pytest.mark.parametrize("members", [[("../evil.txt", b"x")], [("ok/link", None)]])
def test_extract_tar_refuses_unsafe_members(tmp_path, members):
    archive = tmp_path / "bad.tar.gz"
    make_tar(archive, [("ok/fine.txt", b"f")] + members)
    with pytest.raises(dl.CorruptDataError, match="unsafe member"):
        dl.extract_tar(archive, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == [] and not (tmp_path / "evil.txt").exists()


def test_extract_truncated_tar(tmp_path):
    archive = tmp_path / "t.tar.gz"
    make_tar(archive, [("d/big.bin", bytes(range(256)) * 400)])
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(dl.CorruptDataError, match="truncated or corrupt"):
        dl.extract_tar(archive, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


def test_verify_file_caches_a_good_result(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    calls = []
    real = dl.file_digest
    monkeypatch.setattr(dl, "file_digest", lambda p, a="sha256": calls.append(a) or real(p, a))
    for _ in range(3):
        dl.verify_file(path, sha256=sha(b"hello"))
    assert calls == ["sha256"]
    path.write_bytes(b"hellO")  # a changed file is hashed again, and fails
    with pytest.raises(dl.CorruptDataError):
        dl.verify_file(path, sha256=sha(b"hello"))


def test_data_home_and_shared_data(tmp_path, monkeypatch):
    monkeypatch.delenv("NERVE_DATA", raising=False)
    assert str(dl.data_home()).endswith(".cache/nerve")
    monkeypatch.setenv("NERVE_DATA", str(tmp_path))
    assert dl.data_home() == tmp_path and dl.resolve_root(None) == tmp_path
    assert dl.resolve_root("~/x").name == "x" and "~" not in str(dl.resolve_root("~/x"))
    monkeypatch.setenv("NERVE_SHARED_DATA", str(tmp_path))
    assert dl.find_shared_data() == tmp_path.resolve()
