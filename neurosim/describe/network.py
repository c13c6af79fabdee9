"""The network description: populations of neurons and sparse projections between them.

Frozen and validated; built by :mod:`neurosim.io.nir_read` from NIR files or directly in code. The
simulator never parses files: it consumes a :class:`Network`.

Neurons are numbered globally in population order (``Network.offsets``). Weights are held as
CSR matrices indexed ``[source neuron, target neuron]`` ("CSR by source neuron": a spike of
source ``i`` reaches the row ``i``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from neurosim.describe.sparse_kernels import COMPILE_ABOVE, kernels
from neurosim.errors import NetworkError
from neurosim.neuron import DTYPE, NeuronParams

INPUT, LIF, IF = "input", "lif", "if"
KINDS = (INPUT, LIF, IF)


_count_loop: list = []


def _counter():
    """A compiled counting loop (numba, the ``fast`` extra), or None."""
    if not _count_loop:
        try:
            import numba  # noqa: PLC0415 - optional extra
        except ImportError:
            _count_loop.append(None)
        else:
            _count_loop.append(numba.njit(cache=True)(_count_into))
    return _count_loop[0]


def _count_into(values, out):
    for v in values:
        out[v] += 1


def count_values(values: np.ndarray, n: int) -> np.ndarray:
    """``np.bincount(values, minlength=n)`` in chunks: bincount converts its input to 64-bit
    integers, a temporary of 8 bytes per value that chunks keep small for large index arrays
    (above :data:`~neurosim.describe.sparse_kernels.COMPILE_ABOVE` values, a compiled loop when
    numba imports: no temporary, a few times faster)."""
    chunk = 1 << 22
    if values.size <= chunk:
        return np.bincount(values, minlength=n)
    loop = _counter() if values.size > COMPILE_ABOVE else None
    if loop is not None and values.dtype.kind in "iu":
        if values.size and (int(values.min()) < 0 or int(values.max()) >= n):
            return np.bincount(values, minlength=n)  # bincount's error, or its longer result
        out = np.zeros(n, np.int64)
        loop(values, out)
        return out
    out = np.zeros(n, np.int64)
    for a in range(0, values.size, chunk):
        out += np.bincount(values[a : a + chunk], minlength=n)
    return out


@dataclass(frozen=True, eq=False)
class Population:
    """A group of neurons of one kind. ``params`` is None for the input (spike source)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: NeuronParams | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise NetworkError(f"population {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if (self.kind == INPUT) != (self.params is None):
            raise NetworkError(f"population {self.name!r}: only the input population has no neuron parameters")
        if self.params is not None and self.params.size != self.size:
            raise NetworkError(
                f"population {self.name!r}: {self.params.size} parameter entries for {self.size} neurons"
            )

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def neurons(self) -> NeuronParams:
        """The neuron parameters of a population that has neurons (every one but the input)."""
        if self.params is None:
            raise NetworkError(f"population {self.name!r} is the input: it has no neuron parameters")
        return self.params


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from ``source`` to ``target``: ``weights[i, j]`` is the weight from source neuron
    ``i`` to target neuron ``j`` (local indices). ``delay`` is the synaptic delay in frames: a
    spike of frame ``f`` is integrated in frame ``f + delay`` (0: the same frame; a recurrent
    projection, whose target does not come after its source, needs at least 1 and has 1 when
    given 0, see :meth:`Network.delay_of`). ``synapse_unit``: the hardware's synapse unit whose
    figures its synaptic operations pay (``core.synapse_units``; None: the core's synop figures)."""

    source: str
    target: str
    weights: sp.csr_array
    delay: int = 0
    synapse_unit: str | None = None

    def __post_init__(self):
        if self.synapse_unit is not None and (not isinstance(self.synapse_unit, str) or not self.synapse_unit):
            raise NetworkError(
                f"projection {self.source}->{self.target}: synapse_unit must be a unit name or None, "
                f"got {self.synapse_unit!r}"
            )
        if isinstance(self.delay, bool) or not isinstance(self.delay, (int, np.integer)) or self.delay < 0:
            raise NetworkError(
                f"projection {self.source}->{self.target}: delay must be a whole number of frames >= 0, "
                f"got {self.delay!r}"
            )
        object.__setattr__(self, "delay", int(self.delay))
        w = sp.csr_array(self.weights, dtype=DTYPE)
        w.sum_duplicates()
        w.eliminate_zeros()
        object.__setattr__(self, "weights", w)

    @property
    def n_synapses(self) -> int:
        return int(self.weights.nnz)


@dataclass(frozen=True, eq=False)
class Network:
    """Populations in topological order (the input first) and the projections between them."""

    name: str
    populations: tuple[Population, ...]
    projections: tuple[Projection, ...]
    input: str
    output: str
    dt: float = 1e-3
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "populations", tuple(self.populations))
        object.__setattr__(self, "projections", tuple(self.projections))
        names = [p.name for p in self.populations]
        if len(set(names)) != len(names):
            raise NetworkError(f"network {self.name!r}: duplicate population names {names}")
        by = self.by_name
        for end, role in ((self.input, "input"), (self.output, "output")):
            if end not in by:
                raise NetworkError(f"network {self.name!r}: {role} population {end!r} does not exist")
        if by[self.input].kind != INPUT:
            raise NetworkError(f"network {self.name!r}: input population {self.input!r} is not of kind 'input'")
        if sum(p.kind == INPUT for p in self.populations) != 1:
            raise NetworkError(f"network {self.name!r}: exactly one input population is supported")
        for pr in self.projections:
            for end in (pr.source, pr.target):
                if end not in by:
                    raise NetworkError(f"projection {pr.source}->{pr.target}: population {end!r} does not exist")
            shape = (by[pr.source].size, by[pr.target].size)
            if pr.weights.shape != shape:
                raise NetworkError(
                    f"projection {pr.source}->{pr.target}: weights have shape "
                    f"{pr.weights.shape}, populations need {shape}"
                )
            if by[pr.target].kind == INPUT:
                raise NetworkError(f"projection {pr.source}->{pr.target}: the input population cannot receive synapses")
        if not (self.dt > 0):
            raise NetworkError(f"network {self.name!r}: dt must be positive, got {self.dt}")

    # ---- derived views (computed once) -------------------------------------------------------
    @cached_property
    def by_name(self) -> dict[str, Population]:
        return {p.name: p for p in self.populations}

    @cached_property
    def index(self) -> dict[str, int]:
        return {p.name: i for i, p in enumerate(self.populations)}

    @cached_property
    def offsets(self) -> np.ndarray:
        """Global index of each population's first neuron; ``offsets[-1]`` is the total."""
        return np.concatenate([[0], np.cumsum([p.size for p in self.populations])]).astype(np.int64)

    @property
    def n_neurons(self) -> int:
        return int(self.offsets[-1])

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self.projections)

    def span(self, name: str) -> slice:
        i = self.index[name]
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    @cached_property
    def population_of(self) -> np.ndarray:
        """Population index of every global neuron."""
        return np.repeat(np.arange(len(self.populations)), [p.size for p in self.populations])

    def is_recurrent(self, pr: Projection) -> bool:
        """A projection whose target does not come after its source delivers in the next frame."""
        return self.index[pr.target] <= self.index[pr.source]

    def delay_of(self, pr: Projection) -> int:
        """Frames from a spike to its integration: the projection's delay, at least 1 when it is
        recurrent."""
        return max(pr.delay, 1) if self.is_recurrent(pr) else pr.delay

    @cached_property
    def params(self) -> NeuronParams:
        """Neuron parameters of every global neuron (input neurons get inert placeholders)."""
        parts = [
            p.params if p.params is not None else NeuronParams.uniform(p.size, decay=0.0, threshold=np.inf)
            for p in self.populations
        ]
        return NeuronParams.concat(parts)

    @cached_property
    def _globals(self) -> dict[tuple[int, ...], sp.csr_array]:
        return {}

    def _global(self, projections) -> sp.csr_array:
        """The global matrix ``[source, target]`` of ``projections`` (CSR by source, sorted
        indices, float32, int32 indices where they fit); built once per set of projections and
        shared by every view that asks for the same set."""
        prs = list(projections)
        key = tuple(id(pr) for pr in prs)
        if key not in self._globals:
            self._globals[key] = self._build_global(prs)
        return self._globals[key]

    def _build_global(self, prs: list[Projection]) -> sp.csr_array:
        n = self.n_neurons
        nnz = sum(pr.weights.nnz for pr in prs)
        idx_t = np.int32 if max(n, nnz) < np.iinfo(np.int32).max else np.int64
        if not prs:
            return sp.csr_array((n, n), dtype=DTYPE)
        if len({(pr.source, pr.target) for pr in prs}) < len(prs):
            return self._global_coo(prs)  # two projections between the same populations: summed
        # no two projections share an entry: each source population's rows are its projections'
        # rows side by side (in target order), written straight into the global arrays
        lengths = np.zeros(n, np.int64)
        for pr in prs:
            lengths[self.span(pr.source)] += np.diff(pr.weights.indptr)
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        indices = np.empty(nnz, idx_t)
        data = np.empty(nnz, DTYPE)
        by_source: dict[str, list[Projection]] = {}
        for pr in prs:
            by_source.setdefault(pr.source, []).append(pr)
        for src, group in by_source.items():
            group.sort(key=lambda pr: self.index[pr.target])
            rows = self.span(src)
            filled = np.zeros(rows.stop - rows.start, np.int64)  # entries written per row so far
            for pr in group:
                w, off = pr.weights, self.offsets[self.index[pr.target]]
                if len(group) == 1:
                    a, b = int(indptr[rows.start]), int(indptr[rows.stop])
                    indices[a:b] = w.indices
                    indices[a:b] += off
                    data[a:b] = w.data
                    continue
                counts = np.diff(w.indptr)
                base = indptr[rows.start : rows.stop] + filled
                pos = np.repeat(base - w.indptr[:-1], counts) + np.arange(w.nnz)
                indices[pos] = w.indices + off
                data[pos] = w.data
                filled += counts
        if idx_t is np.int32:
            indptr = indptr.astype(np.int32)
        m = sp.csr_array((data, indices, indptr), shape=(n, n))
        m.has_canonical_format = True  # sorted (targets in population order) and no duplicates
        return m

    def _global_coo(self, prs: list[Projection]) -> sp.csr_array:
        n = self.n_neurons
        rows, cols, vals = [], [], []
        for pr in prs:
            coo = pr.weights.tocoo()
            rows.append(coo.row + self.offsets[self.index[pr.source]])
            cols.append(coo.col + self.offsets[self.index[pr.target]])
            vals.append(coo.data)
        m = sp.csr_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n), dtype=DTYPE
        )
        m.sum_duplicates()
        return m

    def weights_by_delay(self) -> dict[int, sp.csr_array]:
        """Global weight matrices ``[source, target]`` (CSR by source) by delivery delay in frames
        (:meth:`delay_of`), in increasing delay; delay 0 is the same frame's feed-forward. Built
        once; the matrices are shared (do not modify them)."""
        return dict(self._weights_by_delay)

    @cached_property
    def _weights_by_delay(self) -> dict[int, sp.csr_array]:
        delays = sorted({self.delay_of(pr) for pr in self.projections})
        return {d: self._global([pr for pr in self.projections if self.delay_of(pr) == d]) for d in delays}

    @property
    def max_delay(self) -> int:
        """The longest delivery delay in frames (0: every projection delivers in its frame); the
        largest key of :meth:`weights_by_delay`, read from the projections (no global matrix)."""
        return max((self.delay_of(pr) for pr in self.projections), default=0)

    @property
    def weights(self) -> sp.csr_array:
        """Global weights delivered in the same frame (feed-forward, delay 0; CSR by source; shared,
        do not modify)."""
        return self._global([pr for pr in self.projections if self.delay_of(pr) == 0])

    @property
    def recurrent_weights(self) -> sp.csr_array:
        """Global weights delivered in a later frame: the recurrent projections (next frame) and
        every projection with a delay (see :meth:`weights_by_delay` for them by delay; shared)."""
        return self._global([pr for pr in self.projections if self.delay_of(pr) > 0])

    def weights_by_delay_and_ring(self) -> dict[tuple[int, bool], sp.csr_array]:
        """Global weights by ``(delivery delay, declares a delay)``: the second is True for the
        projections whose synapses go through a delay ring buffer (``Projection.delay >= 1``).
        Built once; the matrices are shared (do not modify them)."""
        keys = sorted({(self.delay_of(pr), pr.delay >= 1) for pr in self.projections})
        return {
            (d, r): self._global([pr for pr in self.projections if (self.delay_of(pr), pr.delay >= 1) == (d, r)])
            for d, r in keys
        }

    @property
    def declared_delay_weights(self) -> sp.csr_array:
        """Global weights of the projections that declare a delay (``Projection.delay >= 1``): the
        synapses that go through a core's delay ring buffer on hardware (a recurrent projection of
        delay 0 uses the next frame's accumulator, as every recurrent synapse always has)."""
        return self._global([pr for pr in self.projections if pr.delay >= 1])

    @cached_property
    def disjoint(self) -> bool:
        """No two projections join the same (source, target) populations: every synapse of the
        global matrices is then one entry of one projection (non-zero: a projection drops its
        zeros), so what the set-up needs can be read from the projections one at a time, without
        building the global matrices (8 bytes a synapse more)."""
        return len({(pr.source, pr.target) for pr in self.projections}) == len(self.projections)

    @cached_property
    def fan_in(self) -> np.ndarray:
        """Synapses into each neuron (every projection, whatever its delay): a count of the CSR column
        indices, without building a CSC copy."""
        out = np.zeros(self.n_neurons, np.int64)
        if self.disjoint:  # the same count, projection by projection
            for pr in self.projections:
                out[self.span(pr.target)] += count_values(pr.weights.indices, self.by_name[pr.target].size)
            return out
        for m in self._weights_by_delay.values():
            out += count_values(m.indices, self.n_neurons)
        return out

    def index_dtype(self, nnz: int | None = None) -> type:
        """int32 when every neuron index and ``nnz`` (default: the synapses) fit, else int64."""
        nnz = self.n_synapses if nnz is None else nnz
        return np.int32 if max(self.n_neurons, nnz) < np.iinfo(np.int32).max else np.int64

    def sources_of(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, indices)``: the global source neurons of every neuron's synapses (every
        projection, whatever its delay; CSC of the non-zero pattern of :attr:`weights` plus
        :attr:`recurrent_weights`). Built from the projections one at a time when they are
        :attr:`disjoint` (the sources of a neuron then in projection order, not sorted), without
        the global matrices and their sum; a new pair of arrays on every call."""
        if not self.disjoint:
            csc = (self.weights + self.recurrent_weights).tocsc()
            return csc.indptr, csc.indices
        n = self.n_neurons
        idx_t = self.index_dtype()
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(self.fan_in, out=indptr[1:])
        indices: np.ndarray = np.empty(int(indptr[-1]), idx_t)
        k = kernels(self.n_synapses)
        if k is not None:  # compiled: one pass a projection, no temporary
            at = indptr[:-1].copy()  # each neuron's next free place
            for pr in self.projections:
                span, off = self.span(pr.target), int(self.offsets[self.index[pr.source]])
                k["transpose_into"](pr.weights.indptr, pr.weights.indices, off, at[span], indices)
            return indptr, indices
        filled = np.zeros(n, np.int64)  # sources written per neuron so far
        for pr in self.projections:
            w = pr.weights
            # the CSC pattern of the projection (1-byte data: only the indices are kept)
            csc = sp.csr_array((np.zeros(w.nnz, np.bool_), w.indices, w.indptr), shape=w.shape).tocsc()
            span, off = self.span(pr.target), int(self.offsets[self.index[pr.source]])
            col = np.diff(csc.indptr)
            if not filled[span].any() and self._only_into(pr):
                a = int(indptr[span.start])
                np.add(csc.indices, off, out=indices[a : a + csc.nnz], dtype=idx_t, casting="unsafe")
            else:
                base = indptr[span.start : span.stop] + filled[span]
                pos = np.repeat(base - csc.indptr[:-1], col) + np.arange(csc.nnz)
                indices[pos] = csc.indices + off
            filled[span] += col
            del csc
        return indptr, indices

    def _only_into(self, pr: Projection) -> bool:
        """Whether ``pr`` is the only projection into its target population."""
        return sum(q.target == pr.target for q in self.projections) == 1

    def ring_targets(self) -> np.ndarray:
        """Whether each neuron receives a synapse of a projection that declares a delay (it reads
        a delay ring slot each frame): the columns of :attr:`declared_delay_weights`, read from the
        projections when they are :attr:`disjoint`."""
        if not self.disjoint:
            return count_values(self.declared_delay_weights.indices, self.n_neurons) > 0
        out = np.zeros(self.n_neurons, bool)
        for pr in self.projections:
            if pr.delay >= 1:
                out[self.span(pr.target)] |= count_values(pr.weights.indices, self.by_name[pr.target].size) > 0
        return out

    def pattern_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, indices)`` of :meth:`synapse_pattern`, shared with the weights where they
        can be (do not modify them)."""
        w, r = self.weights, self.recurrent_weights
        if r.nnz == 0 and not (w.data == 0).any():
            return w.indptr, w.indices
        if w.nnz == 0 and not (r.data == 0).any():
            return r.indptr, r.indices
        both = sp.csr_array(abs(w) + abs(r))
        both.sum_duplicates()
        both.eliminate_zeros()
        both.sort_indices()
        return both.indptr, both.indices

    def synapse_pattern(self) -> sp.csr_array:
        """0/1 matrix ``[source, target]`` of every connected pair (every projection, whatever its
        delay), CSR with sorted indices; a new matrix on every call."""
        indptr, indices = self.pattern_arrays()
        n = self.n_neurons
        return sp.csr_array((np.ones(indices.size, np.int32), indices.copy(), indptr.copy()), shape=(n, n))

    def describe(self) -> str:
        lines = [f"network {self.name}: {self.n_neurons} neurons, {self.n_synapses} synapses, dt={self.dt:g} s"]
        for p in self.populations:
            lines.append(f"  {p.name:<12} {p.kind:<6} shape={p.shape} n={p.size}")
        for pr in self.projections:
            tag = " (recurrent)" if self.is_recurrent(pr) else ""
            tag += f" (delay {self.delay_of(pr)})" if self.delay_of(pr) > (1 if self.is_recurrent(pr) else 0) else ""
            lines.append(f"  {pr.source} -> {pr.target}: {pr.n_synapses} synapses{tag}")
        return "\n".join(lines)
