"""NeuroBench's metrics under NeuroBench's names, from a run: the ``neurobench`` block of
``summary.json`` (documented in ``docs/report-schema.md``).

The definitions followed are those of the ``neurobench`` package, version :data:`NEUROBENCH_VERSION`
(``neurobench.metrics``), applied to the *equivalent snnTorch model* of a network: one
``torch.nn.Linear`` (float32, no bias unless the target population has a nonzero bias) per
projection, dense ``source x target``, and one ``snntorch.Leaky`` (scalar ``beta`` and
``threshold``, ``reset_mechanism="zero"``, ``reset_delay=False``, as snnTorch's own NIR import
builds it) per neuron population, run for the run's frames. ``tests/analysis/test_neurobench.py``
runs the real package on that model of a shipped network and checks every figure.

* ``Effective_ACs``: synaptic operations per inference with binary (spike) inputs: every input
  spike of a layer counts the nonzero weights of its fan-out. This is the run's own
  ``synops_per_inference``.
* ``Effective_MACs``: the same for non-binary layer inputs: 0, every layer input is a spike train.
* ``Dense``: every weight slot of every layer in every frame, zero weights and silent inputs
  included: ``frames x sum(source size x target size)``.
* ``ActivationSparsity``: the fraction of zero outputs of the neuron layers over all frames:
  ``1 - spikes / (neurons x frames)`` (input channels are not neurons).
* ``ConnectionSparsity``: zero weights over weight slots, rounded to 4 decimals as NeuroBench does.
* ``ParameterCount``: weight slots (plus biases where a population has a nonzero bias).
* ``Footprint``: bytes of parameters and buffers: 4 per float32 parameter plus each Leaky's
  buffers (``beta``, ``threshold``, ``graded_spikes_factor`` float32 and ``reset_mechanism_val``
  int64: 20 bytes).
* ``MembraneUpdates``: per inference, every neuron in the first frame, then every neuron whose
  membrane (after reset) differs from the frame before. Counters do not hold membranes, so the
  summary leaves it ``null``; :func:`membrane_updates` computes it from the input spikes (the
  time-stepped ``sync`` semantics NeuroBench's model has).

neurosim's own figures that differ from NeuroBench's are given beside them (``neurosim``), and the
on-chip weight memory the mapping needs (``weight_memory``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from neurosim.describe.mapping import core_loads
from neurosim.describe.network import INPUT, Network
from neurosim.sim.reference import sync_frames

NEUROBENCH_VERSION = "2.3.0"
#: bytes of one snnTorch Leaky's buffers: beta, threshold, graded_spikes_factor (float32) and
#: reset_mechanism_val (int64)
LEAKY_BUFFER_BYTES = 4 + 4 + 4 + 8
FLOAT32_BYTES = 4
MEMBRANE_NOTE = "needs the membranes of every frame, which counters do not hold: see neurobench.membrane_updates"


def weight_slots(net: Network) -> int:
    """Dense weight slots: ``sum(source size x target size)`` over every projection."""
    by = net.by_name
    return sum(by[pr.source].size * by[pr.target].size for pr in net.projections)


def parameter_count(net: Network) -> int:
    """NeuroBench's ``ParameterCount`` of the equivalent model: weight slots, plus one bias per
    neuron of each population that has a nonzero bias."""
    biases = sum(p.size for p in net.populations if p.kind != INPUT and bool(np.any(p.neurons.bias != 0)))
    return weight_slots(net) + biases


def footprint(net: Network) -> int:
    """NeuroBench's ``Footprint`` (bytes) of the equivalent model: float32 parameters plus the
    buffers of one Leaky per population (per-neuron ``beta``/``threshold`` when they vary)."""

    def per(a: np.ndarray) -> int:  # a scalar buffer, or one entry per neuron when they vary
        return FLOAT32_BYTES * (1 if np.unique(a).size <= 1 else a.size)

    buffers = 0
    for p in net.populations:
        if p.kind != INPUT:
            buffers += LEAKY_BUFFER_BYTES - 2 * FLOAT32_BYTES + per(p.neurons.decay) + per(p.neurons.threshold)
    return FLOAT32_BYTES * parameter_count(net) + buffers


def static_metrics(net: Network) -> dict[str, Any]:
    """The metrics that depend on the network alone."""
    slots = weight_slots(net)
    return {
        "ConnectionSparsity": round(1.0 - net.n_synapses / slots, 4) if slots else None,
        "ParameterCount": parameter_count(net),
        "Footprint": footprint(net),
    }


def membrane_updates(net: Network, stimuli: np.ndarray) -> float:
    """NeuroBench's ``MembraneUpdates`` per inference over ``stimuli`` (samples x frames x input
    channels), time-stepped (sync): per sample, every neuron once for the first frame, then each
    neuron whose membrane after the frame (after reset) differs from the one before."""
    stimuli = np.asarray(stimuli)
    if stimuli.dtype != np.bool_ and not np.issubdtype(stimuli.dtype, np.integer):
        raise ValueError(f"MembraneUpdates needs spikes or event counts, got stimuli of dtype {stimuli.dtype}")
    if stimuli.ndim != 3 or not len(stimuli):
        return 0.0
    lif = net.population_of != net.index[net.input]
    total = 0
    for stimulus in stimuli:
        before = None
        for _, v in sync_frames(net, stimulus):
            total += int(lif.sum()) if before is None else int(np.count_nonzero((v != before) & lif))
            before = v.copy()
    return total / len(stimuli)


def weight_bits(net: Network) -> tuple[int, str]:
    """Bits per stored weight and where the figure comes from: the model's ``weight_bits``
    metadata (the trainer's quantisation), else float32 as the NIR file holds them."""
    meta = net.metadata.get("neurosim") if isinstance(net.metadata, dict) else None
    bits = meta.get("weight_bits") if isinstance(meta, dict) else None
    if isinstance(bits, int) and bits > 0:
        return bits, "model metadata weight_bits"
    return 32, "float32 (the model records no weight precision)"


def weight_memory(result) -> dict[str, Any] | None:
    """On-chip weight memory the mapping needs: each core stores the fan-in synapses of its
    neurons at the model's weight precision (the hardware description has no weight width);
    bytes per used core, their total and the share of the core's ``max_synapses``."""
    m, net, hw = result.mapping, result.network, result.hardware
    core_of = getattr(m, "core_of", None)
    if core_of is None or not isinstance(net, Network):
        return None
    bits, source = weight_bits(net)
    synapses = core_loads(net, np.asarray(core_of), hw.n_cores)["synapses"]
    cap = hw.core.max_synapses
    cores = [int(c) for c in np.flatnonzero(synapses)]
    nbytes = [math.ceil(int(synapses[c]) * bits / 8) for c in cores]
    per_core = [
        {
            "core": c,
            "synapses": int(synapses[c]),
            "bytes": b,
            "capacity_frac": None if cap is None else int(synapses[c]) / cap,
        }
        for c, b in zip(cores, nbytes)
    ]
    return {
        "weight_bits": bits,
        "weight_bits_source": source,
        "total_bytes": sum(nbytes),
        "max_core_bytes": max(nbytes, default=0),
        "per_core": per_core,
    }


def neurobench_metrics(result) -> dict[str, Any] | None:
    """The ``neurobench`` block of the summary (None when the run has no :class:`Network`)."""
    net = result.network
    if not isinstance(net, Network):
        return None
    samples = list(result.samples)
    n = len(samples)
    frames = int(result.frames)
    neurons = int(sum(p.size for p in net.populations if p.kind != INPUT))
    mean = lambda xs: (sum(xs) / n) if n else None  # noqa: E731
    spikes = mean([s.spikes for s in samples])
    slots = neurons * frames
    return {
        "version": NEUROBENCH_VERSION,
        "time_stepped": result.mode == "sync",
        "Effective_ACs": mean([s.synops for s in samples]),
        "Effective_MACs": 0.0 if n else None,
        "Dense": float(frames * weight_slots(net)) if n else None,
        "ActivationSparsity": None if spikes is None or not slots else 1.0 - spikes / slots,
        **static_metrics(net),
        "MembraneUpdates": None,
        "MembraneUpdates_note": MEMBRANE_NOTE,
        "neurosim": {
            "synapses": int(net.n_synapses),
            "weight_slots": weight_slots(net),
            "neuron_update_active_per_inference": mean([s.ops.get("neuron_update_active", 0) for s in samples]),
            "neuron_updates_per_inference": mean(
                [s.ops.get("neuron_update_active", 0) + s.ops.get("neuron_update_idle", 0) for s in samples]
            ),
        },
        "weight_memory": weight_memory(result),
    }
