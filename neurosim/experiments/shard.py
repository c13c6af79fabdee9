"""One run's samples split across processes or Dask workers and merged back into one result.

Samples are independent (the chip is reset before each one, every random choice is seeded from
the seed and the sample's index), so a run can be cut into contiguous shards of samples, each
simulated by :func:`neurosim.sim.engine.simulate` with its ``first_sample``, and the shards merged
in sample order (:func:`neurosim.sim.merge.merge_results`). The merged result is the one a single
process gives: its ``summary.json``, ``samples.csv`` and report are byte-identical, wall time
aside (``tests/experiments/test_shard.py``).

Workers: a local pool of ``workers`` processes (fork server, else spawn; one BLAS thread each),
or Dask (``dask="local"``: a LocalCluster of ``workers`` processes; else a scheduler's address,
whose workers must run the same versions, see :mod:`neurosim.experiments.cluster`). The hardware,
network and mapping are sent once to each process (pool) or once to the cluster (Dask), the
stimulus of a shard with the shard; nothing is read from files on the workers. There are
``SHARDS_PER_WORKER`` shards per worker (at most one per sample), so the progress bar moves and a
slow shard does not hold the others up.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network
from neurosim.errors import NeurosimError, SimulationError
from neurosim.experiments import cluster
from neurosim.sim.counters import RunResult
from neurosim.sim.engine import simulate
from neurosim.sim.merge import merge_results
from neurosim.sim.noc import event as noc_event

SHARDS_PER_WORKER = 4


@dataclasses.dataclass(frozen=True)
class World:
    """What every shard of a run shares: the three descriptions."""

    hardware: HardwareSpec
    network: Network
    mapping: Mapping


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous ranges ``[start, stop)`` covering ``range(n)``, sizes differing by
    at most one (fewer when ``n < shards``)."""
    shards = max(1, min(int(shards), n))
    edges = [n * k // shards for k in range(shards + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def run_shard(world: World, inputs: np.ndarray, labels: np.ndarray, first: int, options: dict) -> RunResult:
    """Simulate samples ``first ..`` of a run (``options``: the keyword arguments of
    ``simulate``); the descriptions are left out of the result (the caller has them)."""
    res = simulate(world.hardware, world.network, world.mapping, inputs, labels, first_sample=first, **options)
    return dataclasses.replace(res, hardware=None, network=None, mapping=None)


def simulate_sharded(
    hw: HardwareSpec,
    net: Network,
    mapping: Mapping,
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    workers: int = 1,
    dask: str | None = None,
    progress: Callable | None = None,
    **options: Any,
) -> RunResult:
    """:func:`neurosim.sim.engine.simulate` of every sample, on ``workers`` processes or on Dask
    (``dask``: ``"local"`` or a scheduler's address); the same result as one process, wall time
    aside. ``progress`` wraps an iterable of the samples (as for ``simulate``) and advances as
    shards finish. ``workers=1`` without Dask is ``simulate`` itself."""
    if int(workers) < 1:
        raise NeurosimError(f"--workers must be >= 1, got {workers}")
    n = int(inputs.shape[0])
    if dask is None and (int(workers) == 1 or n <= 1):
        return simulate(hw, net, mapping, inputs, labels, progress=progress, **options)
    t0 = time.perf_counter()
    world, tick = World(hw, net, mapping), _ticker(progress, n)
    if dask is None:
        parts = _on_pool(world, inputs, labels, options, int(workers), tick)
    else:
        parts = _on_dask(world, inputs, labels, options, dask, int(workers), tick)
    tick(None)
    merged = merge_results(parts, wall_s=time.perf_counter() - t0)
    return dataclasses.replace(merged, hardware=hw, network=net, mapping=mapping)


def _ticker(progress: Callable | None, n: int) -> Callable[[int | None], None]:
    """``tick(k)`` advances the progress bar by ``k`` samples; ``tick(None)`` closes it."""
    if progress is None:
        return lambda k: None
    it = iter(progress(range(n)))

    def tick(k: int | None) -> None:
        if k is None:
            for _ in it:  # the rest, then the bar's own end
                pass
            return
        for _ in range(k):
            next(it, None)

    return tick


# ---- a local pool ----------------------------------------------------------------------------------

_WORLD: World | None = None  # the run's descriptions, in a pool's worker process


def _init_pool_worker(world: World) -> None:
    """A pool process: keep the run's descriptions; one BLAS thread (the pool uses the cores)."""
    global _WORLD
    _WORLD = world
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional extra
    except ImportError:
        return
    threadpool_limits(limits=1)


def _pool_shard(inputs: np.ndarray, labels: np.ndarray, first: int, options: dict) -> RunResult:
    if _WORLD is None:
        raise SimulationError("pool worker started without the run's descriptions")
    return run_shard(_WORLD, inputs, labels, first, options)


def _context(world: World):
    """The fork server (else spawn), which imports the simulator once for all the pool's processes
    (and numba, which times contended links, when the hardware models contention)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    preload = ["neurosim.experiments.shard"]
    if world.hardware.router.contention and noc_event.AVAILABLE:
        preload.append("numba")
    ctx.set_forkserver_preload(preload)  # takes effect when this process starts its fork server
    return ctx


def _on_pool(world: World, inputs, labels, options: dict, workers: int, tick) -> list[RunResult]:
    bounds = shard_bounds(inputs.shape[0], workers * SHARDS_PER_WORKER)
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(bounds)),
        mp_context=_context(world),
        initializer=_init_pool_worker,
        initargs=(world,),
    )
    parts = []
    try:
        futures = {pool.submit(_pool_shard, inputs[a:b], labels[a:b], a, options): (a, b) for a, b in bounds}
        for fut in as_completed(futures):
            try:
                parts.append(fut.result())
            except BrokenProcessPool:
                raise SimulationError(
                    "a worker process died while simulating samples (out of memory?); run again with fewer --workers"
                ) from None
            a, b = futures[fut]
            tick(b - a)
    except BaseException:  # a failed shard, Ctrl-C: nothing more is started
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return parts


# ---- Dask ------------------------------------------------------------------------------------------


def _on_dask(world: World, inputs, labels, options: dict, address: str, workers: int, tick) -> list[RunResult]:
    """The shards on Dask; each future is released as soon as its result is here."""
    with cluster.dask_client(address, workers) as client:
        import distributed  # noqa: PLC0415 - optional extra (dask_client has checked it is there)

        bounds = shard_bounds(inputs.shape[0], cluster.worker_threads(client) * SHARDS_PER_WORKER)
        shared = client.scatter(world, hash=False)
        futures = {
            client.submit(run_shard, shared, inputs[a:b], labels[a:b], a, options, pure=False, retries=2): (a, b)
            for a, b in bounds
        }
        parts = []
        for fut in distributed.as_completed(futures):
            a, b = futures.pop(fut)
            try:
                parts.append(fut.result())
            except Exception as exc:  # KilledWorker after the retries, a lost connection, ...
                if isinstance(exc, NeurosimError):
                    raise
                raise SimulationError(
                    f"--dask: samples {a}..{b - 1} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                ) from None
            fut.release()
            tick(b - a)
    return parts
