"""The one writer of user-named outputs (predictions, models, checkpoints, metrics, plots, exports).

- A regular file or a new path is written to a temporary file in the target's folder, synced and
  renamed into place: a crash or an error leaves the previous file (or none), never a partial one.
- A symbolic link is written through: the rename replaces the file it points to; the link stays.
- Anything else that exists (a character or block device, a FIFO, ``/dev/stdout``) is opened and
  written directly, because a rename would replace the device node itself; ``-`` is stdout.
- Temporary files are named ``.NAME.tagger-PID-RANDOM.tmp`` (directories the same); those whose
  writer process is gone are removed whenever something is written into their folder.
- Every ``OSError`` of the output (a directory where a file is needed, a file where a directory
  is needed, a read-only file system, a full disk) becomes an :class:`OutputError` naming the path.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tagger.errors import TaggerError

TEMP = re.compile(r"^\.(?P<name>.+)\.tagger-(?P<pid>\d+)-[0-9a-f]+\.(tmp|old)$")
_NAME_MAX = 180  # leaves room for the suffix within a file system's 255-byte names


class OutputError(TaggerError):
    """An output path that cannot be written; the message names it."""


def _output_error(name: str, exc: OSError) -> OutputError:
    return OutputError(f"{name}: cannot write: {exc.strerror or exc}")


def temp_path(target: Path, suffix: str = "tmp") -> Path:
    """A fresh temporary name beside ``target`` that carries this process's id."""
    stem = target.name[:_NAME_MAX]
    return target.with_name(f".{stem}.tagger-{os.getpid()}-{secrets.token_hex(4)}.{suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process / not a pid at all
        return pid < (1 << 22)
    return True


def sweep(folder: Path) -> list[Path]:
    """Remove our temporary files and folders in ``folder`` whose writer process has ended."""
    removed: list[Path] = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            found = TEMP.match(entry.name)
            if not found or int(found["pid"]) == os.getpid() or _alive(int(found["pid"])):
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def resolve(path: str | Path) -> tuple[Path, bool]:
    """Where writing ``path`` goes, and whether through a temporary file and a rename.

    Raises :class:`OutputError` for a directory (a file is needed) or an unusable folder.
    """
    name = str(path)
    if not name.strip():
        raise OutputError("the output path is empty")
    try:
        info = os.stat(name)  # follows symlinks
    except FileNotFoundError:
        real = Path(os.path.realpath(name))  # a new path, or a dangling link's target
        _check_folder(name, real.parent)
        return real, True
    except OSError as exc:
        raise _output_error(name, exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{name}: is a directory, expected a file")
    if _special(name):  # /dev/stdout may be a redirected file: write into it, don't replace it
        return Path(name), False
    if stat.S_ISREG(info.st_mode):
        return Path(os.path.realpath(name)), True
    return Path(name), False


def _special(name: str) -> bool:
    """Whether ``name`` is under /dev or /proc (``/dev/stdout``, ``/dev/fd/3``, ...)."""
    absolute = os.path.abspath(name)
    return absolute.startswith(("/dev/", "/proc/"))


def _check_folder(name: str, folder: Path) -> None:
    """Raise unless ``folder`` is a directory or could be created as one."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{name}: cannot write: {parent} is not a directory")
            return


def check_folder(path: str | Path) -> None:
    """Raise :class:`OutputError` unless ``path`` is, or could be created as, a directory."""
    if Path(path).exists() and not Path(path).is_dir():
        raise OutputError(f"{path}: is a file, expected a directory")
    _check_folder(str(path), Path(path))


def check_target(path: str | Path) -> None:
    """Validate an output path before any work is done for it (nothing is created)."""
    if str(path) != "-":
        resolve(path)


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Open ``path`` for writing bytes as the module docstring says; on success the data is in
    place, on any error nothing of the old file is lost and no temporary file stays behind."""
    name = str(path)
    if name == "-":
        sys.stdout.flush()  # text printed before must come first
        with _errors(name):
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
        return
    real, via_temp = resolve(name)
    if not via_temp:
        with _errors(name), open(name, "wb") as handle:
            yield handle
        return
    tmp = None
    try:
        with _errors(name, every=True):
            real.parent.mkdir(parents=True, exist_ok=True)
            sweep(real.parent)
            tmp = temp_path(real)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        with _errors(name), os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with _errors(name, every=True):
            _keep_mode(real, tmp)
            os.replace(tmp, real)
            tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _keep_mode(real: Path, tmp: Path) -> None:
    """Give the new file the permission bits of the file it replaces."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(tmp, stat.S_IMODE(os.stat(real).st_mode))


@contextlib.contextmanager
def _errors(name: str, every: bool = False) -> Iterator[None]:
    """Turn an OSError of the output into :class:`OutputError`: any (``every``: setting up or
    committing the file) or, around the caller's writes, those that name no other file."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        if not every and exc.filename not in (None, name):
            raise
        raise _output_error(name, exc) from None


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (see :func:`atomic_open`)."""
    with atomic_open(path) as handle:
        handle.write(data)


def check_dir_target(path: str | Path, marker: str) -> Path:
    """The real path of a folder that :func:`atomic_dir` may replace, or OutputError."""
    name = str(path)
    real = Path(os.path.realpath(name))
    if real.exists():
        if not real.is_dir():
            raise OutputError(f"{name}: is a file, expected a directory")
        if any(real.iterdir()) and not (real / marker).exists():
            raise OutputError(f"{name}: a directory that this command did not write; not replaced")
    _check_folder(name, real.parent)
    return real


@contextlib.contextmanager
def atomic_dir(path: str | Path, marker: str) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces the folder ``path``.

    An existing ``path`` is replaced only when it is empty or holds ``marker`` (it was written
    by the same kind of writer), so a folder of the user's is never deleted.
    """
    name = str(path)
    real = check_dir_target(name, marker)
    staging = temp_path(real)
    try:
        with _errors(name, every=True):
            real.parent.mkdir(parents=True, exist_ok=True)
            sweep(real.parent)
            staging.mkdir()
        yield staging
        with _errors(name, every=True):
            old = temp_path(real, "old")
            if real.exists():
                real.rename(old)
            staging.rename(real)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
