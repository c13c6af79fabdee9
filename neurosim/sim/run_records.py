"""What both engines (the batched one, :mod:`neurosim.sim.engine`, and the SimPy process model,
:mod:`neurosim.sim.process`) do around a simulation: check the arguments, build a sample's record
from its spike log, keep the recorded sample's raster and phase barriers, sum the per-link
counters over samples and check conservation. One piece of code, so that the two engines can only
differ where they simulate."""

from __future__ import annotations

import numpy as np

from neurosim.errors import SimulationError
from neurosim.sim.counters import Raster, SampleRecord
from neurosim.sim.modes import MODES, SCOPES
from neurosim.sim.readout import READOUTS, MembraneReadout, SpikeLog, output_is_spiking, per_spike
from neurosim.sim.scheduler import POLICIES

LINK_KEYS = ("messages", "busy_cycles", "wait_cycles", "stall_cycles", "peak_occupancy")


def check_arguments(
    net,
    inputs: np.ndarray,
    mode: str,
    scope: str,
    policy: str,
    group_size: int,
    max_steps: int | None,
    stop_on_output: int | None,
    readout: str = "max",
) -> None:
    """Raise :class:`SimulationError` for an unknown mode, scope, policy or readout, a bad limit, a
    stimulus of the wrong shape or type, or an output that cannot be read out."""
    if readout not in READOUTS:
        raise SimulationError(f"readout {readout!r} is not available; choose from {READOUTS}")
    try:
        spiking_out = output_is_spiking(net)
    except ValueError as e:
        raise SimulationError(str(e)) from None
    if stop_on_output is not None and not spiking_out:
        raise SimulationError(
            f"stop_on_output needs a spiking output; population {net.output!r} is non-spiking "
            "(read out by its membranes): leave stop_on_output unset"
        )
    if mode not in MODES:
        raise SimulationError(f"execution mode {mode!r} is not available; choose from {MODES}")
    if scope not in SCOPES:
        raise SimulationError(f"scheduler scope {scope!r} is not available; choose from {SCOPES}")
    if policy not in POLICIES:
        raise SimulationError(f"scheduling policy {policy!r} is not available; choose from {POLICIES}")
    if (
        int(group_size) < 1
        or (max_steps is not None and max_steps < 0)
        or (stop_on_output is not None and stop_on_output < 0)
    ):
        raise SimulationError(
            f"group size must be >= 1 and step limits >= 0 (got F={group_size}, "
            f"max_steps={max_steps}, stop_on_output={stop_on_output})"
        )
    n_in = net.by_name[net.input].size
    if inputs.ndim != 3 or inputs.shape[2] != n_in:
        raise SimulationError(
            f"stimulus has shape {inputs.shape}; network {net.name!r} expects (samples, frames, {n_in})"
        )
    if inputs.dtype != np.bool_:
        if not np.issubdtype(inputs.dtype, np.integer):
            raise SimulationError(
                f"stimulus has dtype {inputs.dtype}; pass spikes as bool or event counts as non-negative integers"
            )
        if inputs.size and int(inputs.min()) < 0:
            raise SimulationError(f"stimulus holds a negative event count ({int(inputs.min())}); counts must be >= 0")


def sample_record(
    src, log: SpikeLog, i: int, label: int, cycles: int, ops: dict[str, int], readout: str | None
) -> SampleRecord:
    """The record of the sample just simulated: counts, readout and decision. ``src`` is the chip
    (or the reference's world) after the sample: its ``input_group``, ``copies_sent``,
    ``first_output``, ``steps_per_frame`` and, for a non-spiking output (``readout`` given), the
    membranes ``readout_v`` at the ends ``frame_end`` of the frames."""
    out = log.output_counts()
    n_input = int(log.per_group[src.input_group])
    extra: dict = {"output_events": log.output_events()}
    if readout is not None:  # a non-spiking output: read by its membranes at frame ends
        mem = MembraneReadout(src.readout_v, src.frame_end, readout)
        values = mem.values()
        decision = mem.decision_cycle(label)
        extra["readout"] = values
    else:
        values = out
        decision = log.decision_cycle(label)
    if decision is not None:
        extra.update(log.until(decision))
    if src.steps_per_frame:
        extra["steps"] = int(sum(src.steps_per_frame))
    return SampleRecord(
        index=i,
        label=label,
        prediction=int(np.argmax(values)),
        cycles=cycles,
        ops=ops,
        spikes=int(log.per_group.sum()) - n_input,
        input_spikes=n_input,
        messages_sent=src.copies_sent,
        messages_received=ops["message_in"],
        first_output_cycle=src.first_output,
        decision_cycle=decision,
        output_counts=out,
        extra=extra,
        frames=log.frame_metrics(label),  # the paper's metrics per frame (docs/paper-metrics.md)
    )


def raster_of(i: int, spike_log: list) -> Raster:
    """Sample ``i``'s raster from a spike log of ``(frame, group, ids, cycles)`` entries."""
    if not spike_log:
        empty = np.zeros(0, np.int64)
        return Raster(i, empty, empty, empty)
    return Raster(
        i,
        per_spike(spike_log, [f for f, _, _, _ in spike_log]),
        np.concatenate([ids for _, _, ids, _ in spike_log]),
        np.concatenate([c for _, _, _, c in spike_log]).astype(np.int64),
    )


def with_barriers(phases: list[dict] | None, barrier: int) -> list[dict] | None:
    """Each phase's barrier: the gap to the next phase (the last phase of a frame is followed by
    the frame barrier in every mode)."""
    if not phases:
        return phases
    for a, b in zip(phases, phases[1:] + [None]):
        a["barrier_cycles"] = barrier if b is None or b["frame"] != a["frame"] else max(0, b["start"] - a["end"])
    return phases


def add_links(acc: dict | None, stats: dict) -> dict:
    """Per-link counters summed over samples (peak occupancy: the maximum)."""
    if acc is None:
        return {k: v.copy() for k, v in stats.items()}
    for k in LINK_KEYS:
        acc[k] = np.maximum(acc[k], stats[k]) if k == "peak_occupancy" else acc[k] + stats[k]
    return acc


def check_conservation(i: int, ops: dict, sent: int, expected_synops: int, routed: int) -> None:
    """Messages (copies, for multicast) sent = received = routed; synops = fan-out of spikes."""
    if sent != ops["message_in"]:
        raise SimulationError(f"sample {i}: {sent} messages sent but {ops['message_in']} received")
    if routed != sent:
        raise SimulationError(f"sample {i}: {sent} messages sent but {routed} routed")
    if ops["synop"] != expected_synops:
        raise SimulationError(
            f"sample {i}: {ops['synop']} synaptic operations, but the delivered spikes reach {expected_synops} synapses"
        )
