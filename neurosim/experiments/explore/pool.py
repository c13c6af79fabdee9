"""The local process pool of a sweep, whose workers end with the sweep however it ends.

:class:`~concurrent.futures.ProcessPoolExecutor` workers outlive a parent that is killed
(SIGKILL): nothing tells them to stop. Here every worker

* asks the kernel for SIGTERM when its parent process exits (Linux ``prctl(PR_SET_PDEATHSIG)``;
  with the ``forkserver`` start method the parent is the fork server, which exits as soon as the
  sweep's process is gone);
* runs a watchdog thread that ends it within :data:`WATCH_S` once the sweep's process is gone or
  it has been handed to another parent (other systems, or a parent that outlives the sweep);
* ignores SIGINT: Ctrl-C reaches the whole process group, and the sweep's process, not each
  worker, handles it (it ends the workers with :func:`stop_pool`);
* uses one BLAS thread: the pool, not BLAS, uses the cores (as Dask's workers do by default).

:func:`stop_pool` ends the workers at once (SIGTERM) when the sweep is interrupted or terminated,
rather than after their current points.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

WATCH_S = 1.0
_PR_SET_PDEATHSIG = 1


def new_pool(max_workers: int, ctx) -> ProcessPoolExecutor:
    """A pool of ``max_workers`` processes of context ``ctx`` whose workers end with this process."""
    return ProcessPoolExecutor(
        max_workers=max_workers, mp_context=ctx, initializer=init_worker, initargs=(os.getpid(),)
    )


def init_worker(sweep_pid: int) -> None:
    """The initializer of every worker of :func:`new_pool` (see the module's docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    threading.Thread(target=_watch, args=(sweep_pid, os.getppid()), daemon=True, name="neurosim-sweep-watch").start()
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional extra
    except ImportError:
        return
    threadpool_limits(limits=1)


def _die_with_parent() -> None:
    """SIGTERM to this process when its parent exits (Linux; elsewhere the watchdog does it)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _watch(sweep_pid: int, parent: int) -> None:
    while True:
        if os.getppid() != parent or not _alive(sweep_pid):
            os._exit(128 + signal.SIGTERM)
        time.sleep(WATCH_S)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, another user's
        return True
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the pool's pending points and end its workers now (SIGTERM), waiting briefly for them."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.terminate()
        except (OSError, AttributeError, ValueError):  # already gone, or closed
            pass
    for p in procs:
        try:
            p.join(timeout=2.0)
        except (AssertionError, ValueError):
            pass
