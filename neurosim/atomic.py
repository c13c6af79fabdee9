"""Atomic, durable writes that never delete what neurosim did not write.

* :func:`write_text`: a file appears complete or not at all (a temporary file in the same folder,
  flushed to disk, then renamed over the target); a failure at any point, a full disk in the
  middle of the write included, removes the temporary file.
* :func:`folder`: a whole folder (a report) is built in a hidden sibling and swapped in at the
  end, in one atomic step where the system allows it (Linux ``renameat2(RENAME_EXCHANGE)``),
  else by two renames that the next run repairs if a kill falls between them. After a kill at
  any moment there is the previous complete folder or the new complete one, never neither.
* Ownership: a folder neurosim writes carries a marker file, :data:`MARKER`, holding its kind
  (``report``, ``study``, ``sweep``). An existing folder is replaced (or, for a sweep, written
  into) only when it carries the marker or is empty; any other folder, the working directory
  and a symbolic link are refused with one line (:class:`~neurosim.errors.NeurosimError`), and
  nothing is touched.
* Leftovers: temporary names hold the writer's process id (``.<name>.tmp-<pid>-<hex>``,
  ``.<name>.old-<pid>-<hex>``); what a killed writer left (its process is gone, or the id now
  belongs to a process started after the leftover was last written) is removed by the next
  write of the same target (:func:`clean_stale_files` for a folder of records).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neurosim.errors import NeurosimError

MARKER = ".neurosim-report"
KINDS = ("report", "study", "sweep")
#: a leftover's modification time may precede its owner's start by this much (clock granularity)
START_SLACK_S = 2.0

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old)-(?P<pid>\d+)-[0-9a-f]{8}$")
_OLD_FILE_RE = re.compile(r"^\.(?P<name>.+)\.tmp(?P<pid>\d+)$")  # write_text's names before 0.1
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _temp_name(name: str, what: str) -> str:
    return f".{name}.{what}-{os.getpid()}-{secrets.token_hex(4)}"


# ---- files ---------------------------------------------------------------------------------------


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder, flushed to
    disk, then renamed over ``path``. On any failure (a full disk in mid-write, an interrupt) the
    temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = memoryview(text.encode("utf-8"))
    tmp = path.with_name(_temp_name(path.name, "tmp"))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:  # not created, or already gone
        pass


def clean_stale_files(where: str | os.PathLike) -> list[Path]:
    """Remove the temporary files (of :func:`write_text`) in ``where`` that a killed writer left;
    returns them."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(Path(where)))
    except OSError:
        return removed
    for e in entries:
        m = _TEMP_RE.match(e.name) or _OLD_FILE_RE.match(e.name)
        if m and e.is_file(follow_symlinks=False) and _owner_gone(int(m["pid"]), Path(e.path)):
            _unlink_quietly(Path(e.path))
            removed.append(Path(e.path))
    return removed


# ---- ownership -----------------------------------------------------------------------------------


def marked_kind(out: Path) -> str | None:
    """The kind in ``out``'s marker (``""`` for an empty marker, which any kind accepts), or None
    if ``out`` has no marker."""
    try:
        return (out / MARKER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def check_out(out: str | os.PathLike, kind: str) -> Path:
    """``out`` as an absolute path, if neurosim may write its ``kind`` of folder there: it does not
    exist, or is an empty folder, or a folder whose marker says ``kind``. Else NeurosimError."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    out = Path(out).absolute()
    if out.is_symlink():
        raise NeurosimError(f"{out}: is a symbolic link; give the folder itself (refusing to replace the link)")
    if not out.exists():
        return out
    if not out.is_dir():
        raise NeurosimError(f"{out}: exists and is not a folder")
    here = Path.cwd()
    if out == here or out in here.parents:
        raise NeurosimError(f"{out}: is the working directory or holds it; give a new folder, e.g. {out / 'report'}")
    mark = marked_kind(out)
    if mark is None:
        with os.scandir(out) as entries:
            if next(entries, None) is None:
                return out
        raise NeurosimError(
            f"{out}: the folder holds files neurosim did not write (no {MARKER} file); refusing to replace it: "
            f"give a new or empty folder (if an older neurosim wrote it, create an empty {MARKER} in it)"
        )
    if mark not in ("", kind):
        raise NeurosimError(f"{out}: is a neurosim {mark} folder, not a {kind} folder; refusing to replace it")
    return out


def claim(out: str | os.PathLike, kind: str) -> Path:
    """Make ``out`` a folder of neurosim's ``kind`` that is written into in place (a sweep): create
    it with its marker, or mark an existing empty folder; refuse any other (:func:`check_out`)."""
    out = check_out(out, kind)
    out.mkdir(parents=True, exist_ok=True)
    if marked_kind(out) is None:
        write_text(out / MARKER, kind + "\n")
    return out


# ---- folders -------------------------------------------------------------------------------------


@contextmanager
def folder(out: str | os.PathLike, kind: str = "report") -> Iterator[Path]:
    """``with folder(out) as tmp:`` fill ``tmp``; on success it replaces ``out`` at once (the
    previous ``out`` is removed only once the new one is in place); on an error or interrupt
    ``tmp`` is removed and ``out`` is left as it was. ``out`` must pass :func:`check_out`; the new
    folder carries the marker of ``kind``."""
    out = check_out(out, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    out = check_out(out, kind)  # a previous folder may have been put back
    tmp = out.parent / _temp_name(out.name, "tmp")
    try:
        os.mkdir(tmp)
        yield tmp
        with open(tmp / MARKER, "w", encoding="utf-8") as f:  # written last: the folder is complete
            f.write(kind + "\n")
        _sync_tree(tmp)
        _fsync_dir(out.parent)
        _swap_in(tmp, out)
    except BaseException:
        _remove_tree(tmp)
        raise


def _remove_tree(path: Path) -> None:
    """Remove a folder; an interrupt that arrives in the middle does not stop the removal (it is
    raised once the folder is gone)."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def recover(out: str | os.PathLike) -> list[Path]:
    """Repair what a killed writer of ``out`` left beside it: if ``out`` is missing and a complete
    previous folder was renamed aside (``.<name>.old-*``, marked), put it back; then remove the
    leftovers of writers that are gone (never an ``.old`` folder while ``out`` is missing).
    Returns the leftovers removed."""
    out = Path(out).absolute()
    stale = [(p, what) for p, what, pid in _leftovers(out) if _owner_gone(pid, p)]
    if not os.path.lexists(out):
        olds = [p for p, what in stale if what == "old" and marked_kind(p) is not None]
        if olds:
            back = max(olds, key=lambda p: p.stat().st_mtime)
            os.rename(back, out)
            _fsync_dir(out.parent)
            stale = [(p, what) for p, what in stale if p != back]
    keep_old = not os.path.lexists(out)
    removed = []
    for p, what in stale:
        if what == "old" and keep_old:
            continue
        if p.is_dir() and not p.is_symlink():
            _remove_tree(p)
        else:
            _unlink_quietly(p)
        removed.append(p)
    return removed


def _leftovers(out: Path) -> Iterator[tuple[Path, str, int]]:
    """(path, ``tmp`` or ``old``, owner pid) of the temporary siblings of ``out``."""
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for e in entries:
        m = _TEMP_RE.match(e.name)
        if m and m["name"] == out.name:
            yield Path(e.path), m["what"], int(m["pid"])


def _swap_in(tmp: Path, out: Path) -> None:
    """Put ``tmp`` in place of ``out``: one atomic exchange where the system has it, else two
    renames (:func:`recover` repairs a kill between them); then remove the previous folder."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
        _fsync_dir(out.parent)
        return
    if _exchange(tmp, out):
        _fsync_dir(out.parent)
        _remove_tree(tmp)  # now the previous folder
        return
    old = out.parent / _temp_name(out.name, "old")
    try:
        os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        if not os.path.lexists(out) and os.path.lexists(old):
            os.replace(old, out)  # put the previous folder back
        raise
    try:
        _fsync_dir(out.parent)
    finally:
        _remove_tree(old)


def _exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one atomic step (Linux ``renameat2`` with
    ``RENAME_EXCHANGE``). False where the system or the file system does not support it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no libc, or a libc older than glibc 2.28
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


# ---- durability ----------------------------------------------------------------------------------


def _sync_tree(top: Path) -> None:
    """Flush every file and folder under ``top`` (and ``top``) to disk."""
    for root, _dirs, files in os.walk(top):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the system allows it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems do not sync folders
        pass
    finally:
        os.close(fd)


# ---- owners of leftovers -------------------------------------------------------------------------


def _owner_gone(pid: int, leftover: Path) -> bool:
    """Whether the process that wrote ``leftover`` has ended: no process has the id ``pid`` (or
    only its zombie is left), or the one that has it started after ``leftover`` was last
    modified (the id was reused)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    except (OverflowError, OSError):
        return True
    state, started = _proc_stat(pid)
    if state in ("Z", "X"):
        return True
    try:
        modified = leftover.lstat().st_mtime
    except OSError:
        return False
    return started is not None and started > modified + START_SLACK_S


def _proc_stat(pid: int) -> tuple[str | None, float | None]:
    """The state letter of process ``pid`` and when it started (seconds since the epoch), read
    from ``/proc`` (Linux); (None, None) elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
        return fields[0], float(boot.split()[1]) + float(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None, None
