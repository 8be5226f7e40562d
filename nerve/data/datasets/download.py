"""Finding, checking and downloading dataset files.

Files live under a root folder: the one a loader is given, else the cache ``~/.cache/nerve``
(or ``$NERVE_DATA``). Known files are checked against their published md5 or sha256; a
mismatch (a truncated download, a corrupt or foreign file) raises ``CorruptDataError`` naming
the file and is never used. Downloads go to a temporary file beside the target, are verified,
then renamed into place, so an interrupted download never leaves a file that looks complete.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

DEFAULT_HOME = "~/.cache/nerve"

# The opener downloads go through; tests replace it (they never touch the network).
urlopen = urllib.request.urlopen


class MissingDataError(FileNotFoundError):
    """A dataset's files are not on disk (the message says which files to put where)."""


class CorruptDataError(ValueError):
    """A dataset file is truncated, corrupt, or not the file it claims to be."""


class DownloadError(OSError):
    """A download failed (no network, a server error, or a short read)."""


def data_home() -> Path:
    """The default data folder: ``$NERVE_DATA`` if set, else ``~/.cache/nerve``."""
    return Path(os.environ.get("NERVE_DATA") or DEFAULT_HOME).expanduser()


def resolve_root(root) -> Path:
    return data_home() if root is None else Path(root).expanduser()


def find_shared_data() -> Path | None:
    """The ``shared/data`` folder beside the repository (real datasets for tests and
    benchmarks), or None. ``$NERVE_SHARED_DATA`` overrides the search."""
    env = os.environ.get("NERVE_SHARED_DATA")
    repo = Path(__file__).resolve().parents[3]
    candidates = [Path(env)] if env else []
    candidates += [repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data",
                   Path.cwd() / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    return None


# ---- checksums ------------------------------------------------------------------------------
_verified: set = set()  # (path, size, mtime, algorithm, digest) already checked this process


def file_digest(path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path, md5: str | None = None, sha256: str | None = None, who: str = "nerve",
                hint: str = "") -> None:
    """Raise ``CorruptDataError`` unless ``path`` has the given md5 / sha256."""
    path = Path(path)
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected is None:
            continue
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, algorithm, expected)
        if key in _verified:
            continue
        actual = file_digest(path, algorithm)
        if actual != expected.lower():
            raise CorruptDataError(
                f"{who}: {path} failed its {algorithm} check (got {actual}, expected "
                f"{expected}, size {st.st_size} bytes): the file is truncated, corrupt or not the "
                f"official one, and was not used. Delete it and fetch it again"
                f"{hint or ' (download=True)'}, or pass verify=False to use a modified file.")
        _verified.add(key)


def missing_error(who: str, names, folder: Path, looked_in=(), urls=(), note: str = ""):
    """The error for missing files: which files, where to put them, how to get them."""
    msg = f"{who}: file(s) not found: {', '.join(names)}. Put them in {folder}"
    others = [str(p) for p in looked_in if Path(p) != Path(folder)]
    if others:
        msg += f" (also looked in {', '.join(others)})"
    msg += ", or pass root= a folder that holds them"
    if urls:
        msg += f", or pass download=True to fetch them from {' or '.join(urls)}"
    return MissingDataError(msg + "." + (f" {note}" if note else ""))


# ---- downloading ------------------------------------------------------------------------------
class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


class _QuietBar:
    """Fallback without tqdm: one line when a download starts and one when it ends."""

    def __init__(self, total, desc):
        size = f" ({total / 2**20:.1f} MiB)" if total else ""
        print(f"downloading {desc}{size} ...", file=sys.stderr, flush=True)
        self.n = 0

    def update(self, n):
        self.n += n

    def close(self):
        print(f"  done, {self.n / 2**20:.1f} MiB", file=sys.stderr, flush=True)


def _progress(total, desc, enabled: bool):
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _QuietBar(total, desc)
    # disable=None: tqdm stays quiet when stderr is not a terminal
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                disable=None)


def download_url(url: str, path, md5: str | None = None, sha256: str | None = None,
                 progress: bool = True, who: str = "nerve", timeout: float = 60.0) -> Path:
    """Download ``url`` to ``path`` atomically, checking its length and checksum."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "nerve-data/0.1"})
        try:
            response = urlopen(request, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DownloadError(f"{who}: could not download {url}: {exc}") from exc
        with response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length") if response.headers else None
            total = int(length) if length else None
            bar = _progress(total, path.name, progress)
            got = 0
            try:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
            except OSError as exc:
                raise DownloadError(f"{who}: download of {url} failed after {got} bytes: "
                                    f"{exc}") from exc
            finally:
                bar.close()
            out.flush()
            os.fsync(out.fileno())
        if total is not None and got != total:
            raise DownloadError(f"{who}: download of {url} was cut short: got {got} of {total} "
                                f"bytes")
        verify_file(tmp, md5=md5, sha256=sha256, who=who, hint=f" from {url}")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def download_files(who: str, folder: Path, files, mirrors, progress: bool = True) -> None:
    """Fetch each ``(name, {"md5": ...} or {"sha256": ...})`` missing from ``folder``, trying
    the base URLs in ``mirrors`` in order."""
    for name, sums in files:
        target = Path(folder) / name
        if target.exists():
            continue
        errors = []
        for base in mirrors:
            try:
                download_url(base + name, target, progress=progress, who=who, **sums)
                break
            except (DownloadError, CorruptDataError) as exc:
                errors.append(str(exc))
        else:
            raise DownloadError(f"{who}: could not fetch {name}: " + "; ".join(errors) +
                                f". Without network, put {name} in {folder} yourself.")


def extract_tar(archive, dest, who: str = "nerve") -> None:
    """Unpack a (gzipped) tar into ``dest`` safely: members may not escape ``dest`` or be
    links or devices; entries appear in ``dest`` only once the whole archive is unpacked."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        try:
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    target = (staging / member.name).resolve()
                    if not (member.isfile() or member.isdir()) or not \
                            target.is_relative_to(staging.resolve()):
                        raise CorruptDataError(f"{who}: {archive} has an unsafe member "
                                               f"{member.name!r}; refusing to extract it")
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, filter="data")
                else:  # pragma: no cover - Python without extraction filters
                    tar.extractall(staging)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise CorruptDataError(f"{who}: {archive} is not a readable tar archive ({exc}); it "
                                   f"is truncated or corrupt") from exc
        for entry in staging.iterdir():
            final = dest / entry.name
            if final.is_dir():
                shutil.rmtree(final)
            os.replace(entry, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def find_folder(root: Path, subdirs, names) -> Path | None:
    """The first of ``root/sub`` (for sub in ``subdirs``; "" is root) holding every file in
    ``names``; each name may also be present without its ``.gz``."""
    for sub in subdirs:
        folder = Path(root) / sub if sub else Path(root)
        if all((folder / n).is_file() or (n.endswith(".gz") and (folder / n[:-3]).is_file())
               for n in names):
            return folder
    return None
