"""Dask for runs and sweeps: the client (a ``LocalCluster`` or a scheduler's address), checked
against its workers, and the files a job needs carried to the workers as bytes.

A real cluster shares nothing with this process but the network: :func:`dask_client` refuses
workers whose neurosim or numerical packages differ from this process's (``VERSIONED``, and a
hash of neurosim's own source files), in one line naming the worker and the difference, and
prints the address of the scheduler's dashboard. Files travel with the jobs: :func:`read_files`
reads them here and :func:`run_with_files`, on the worker, writes them to a private temporary
folder, runs the job on those copies and removes them, so workers need no shared filesystem.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from neurosim.errors import NeurosimError

#: packages whose version must be the same on the workers as here (when installed on either)
VERSIONED = ("neurosim", "numpy", "scipy", "nir", "simpy", "networkx", "numba", "pymetis", "h5py", "pydantic")
#: how long to wait for a scheduler's first worker
WORKER_WAIT_S = 60
#: the job keys that name a file the job reads (``run_with_files`` ships them)
FILE_KEYS = ("model_path", "hardware_path", "mapping_path")


def _version(name: str) -> str | None:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    v = getattr(module, "__version__", None)
    if v is None:
        try:
            v = metadata.version(name)
        except metadata.PackageNotFoundError:
            v = "unknown"
    return str(v)


def source_hash() -> str:
    """A hash of neurosim's own ``.py`` files (path and content), so that two checkouts of the
    same version number that differ are told apart."""
    root = Path(importlib.import_module("neurosim").__file__ or ".").parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def versions() -> dict[str, str | None]:
    """What must match between this process and the workers: Python (major.minor), the
    ``VERSIONED`` packages (None: not installed) and neurosim's source hash."""
    out: dict[str, str | None] = {"python": ".".join(map(str, sys.version_info[:2]))}
    out.update({name: _version(name) for name in VERSIONED})
    out["neurosim source"] = source_hash()
    return out


def version_mismatch(mine: dict[str, str | None], workers: dict[str, dict[str, str | None]]) -> str | None:
    """The first difference between this process's :func:`versions` and a worker's, as one line
    (None: they all match)."""
    for addr in sorted(workers):
        theirs = workers[addr]
        for key in mine:
            if theirs.get(key) != mine[key]:
                there, here = theirs.get(key) or "not installed", mine[key] or "not installed"
                return f"worker {addr} has {key} {there}, this process {here}"
    return None


def check_versions(client, flag: str) -> None:
    """Refuse workers that cannot run neurosim or run other versions than this process."""
    mine = versions()
    try:
        theirs = client.run(versions)
    except Exception as exc:  # the workers cannot import neurosim, ...
        raise NeurosimError(
            f"{flag}: the workers cannot run neurosim ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
            "install this neurosim on every worker"
        ) from None
    diff = version_mismatch(mine, theirs)
    if diff:
        raise NeurosimError(f"{flag}: {diff}; install the same versions on every worker")


def _connect(address: str, workers: int, flag: str):
    """(client, cluster): a LocalCluster of ``workers`` processes for ``local``, else a client of
    the scheduler at ``address`` (cluster None) once it has a worker."""
    try:
        import distributed  # noqa: PLC0415 - optional extra
    except ImportError:
        raise NeurosimError(f"{flag} needs dask and distributed: pip install 'neurosim-hw[dask]'") from None
    cluster = None
    try:
        if address == "local":
            cluster = distributed.LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
            )
            return distributed.Client(cluster), cluster
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise NeurosimError(f"{flag} {address}: cannot connect: {' '.join(str(exc).split())}") from None
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError:
        client.close()
        raise NeurosimError(f"{flag} {address}: no worker joined the scheduler within {WORKER_WAIT_S} s") from None
    return client, None


@contextmanager
def dask_client(address: str, workers: int = 1, *, flag: str = "--dask") -> Iterator[Any]:
    """A checked ``distributed.Client`` (see the module docstring), closed on exit; the dashboard
    address is printed on stderr. ``flag`` names the option in error messages."""
    client, cluster = _connect(address, workers, flag)
    try:
        check_versions(client, flag)
        link = client.dashboard_link if client.scheduler_info().get("services", {}).get("dashboard") else None
        print(f"neurosim: dask scheduler {client.scheduler.address}; dashboard: {link or 'none'}", file=sys.stderr)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def worker_threads(client) -> int:
    """The threads of all the client's workers (at least 1)."""
    return max(1, sum(client.nthreads().values()))


# ---- files that travel with the jobs --------------------------------------------------------------


def read_files(jobs: list[dict]) -> dict[str, bytes | None]:
    """The bytes of every file the jobs name under ``FILE_KEYS``, read once per path (None: it
    cannot be read here; the job then fails on the worker as it would here)."""
    out: dict[str, bytes | None] = {}
    for job in jobs:
        for key in FILE_KEYS:
            path = job.get(key)
            if path is not None and path not in out:
                try:
                    out[path] = Path(path).read_bytes()
                except OSError:
                    out[path] = None
    return out


def run_with_files(fn: Callable[[dict], dict], job: dict, files: dict[str, bytes | None]) -> dict:
    """On a worker: ``fn(job)`` with the job's files (``files``: path -> bytes, as read by
    :func:`read_files`) written to a private temporary folder under their own names and the job
    pointed at them; the folder is removed afterwards. Paths of those copies in the record's
    ``error`` and ``traceback`` are given back as the job's own paths."""
    with tempfile.TemporaryDirectory(prefix="neurosim-job-") as tmp:
        local, back = dict(job), {}
        for key in FILE_KEYS:
            path = job.get(key)
            if path is None:
                continue
            dest = Path(tmp) / key / Path(path).name
            dest.parent.mkdir()
            data = files.get(path)
            if data is not None:
                dest.write_bytes(data)
            local[key], back[str(dest)] = str(dest), path
        rec = fn(local)
    for field in ("error", "traceback"):
        text = rec.get(field)
        if isinstance(text, str):
            for copy, path in back.items():
                text = text.replace(copy, path)
            rec[field] = text
    return rec
