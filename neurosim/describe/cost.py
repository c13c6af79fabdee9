"""The cost model: counters x per-operation costs. Pure functions of counts and a hardware
description, so a run can be re-costed on other hardware figures without re-simulating.

energy = sum over operations (count x energy per op) + static power x elapsed time.

Static power is :meth:`HardwareSpec.static_power_w` (every unit, or with ``chip.power_gating`` only
the units a run uses: pass ``static_w=hw.static_power_w(used_cores, used_tiles)``). A barrier
costs ``barrier.energy_pj + barrier.per_tile_energy_pj * tiles`` (``barrier_tiles``, default
every tile of the hardware).

Every part stays finite for any legal hardware: energies per operation are at most 1e9 pJ and
static powers at most 1e6 mW per unit (``neurosim.describe.hardware``, "limits"), so even 1e18
operations of each kind over 1e18 cycles of the slowest legal clock sum to a finite total, and the
parts-sum-to-total conservation check cannot be tripped by an overflow.
"""

from __future__ import annotations

from collections.abc import Mapping

from neurosim.describe.hardware import HardwareSpec

CORE_OPS = (
    "message_in",
    "synop",
    "neuron_update_active",
    "neuron_update_idle",
    "spike_out",
    "synaptic_current",
    "delay_write",
    "delay_read",
    "membrane_read",
    "spike_fired",
)
"""Per-core operations. ``spike_fired``: a neuron fires (one per spiking neuron per frame, input
neurons excluded), beside ``spike_out`` per message (SANA-FE's Loihi books both). The four before
it belong to the extended neuron model: ``synaptic_current``
(the synaptic-current update of a cuba neuron, per neuron per frame, beside its neuron update),
``delay_write`` (a synapse of a delayed projection writes its current into the core's delay ring
buffer, per synapse reached), ``delay_read`` (a neuron with delayed inputs reads and clears its
ring slot, per neuron per frame) and ``membrane_read`` (the membrane of a non-spiking output
neuron is read out, per neuron per frame)."""
NOC_OPS = ("hop_ew", "hop_ns", "hop_chip", "local")
OPS = CORE_OPS + NOC_OPS + ("barrier",)

_PJ = 1e-12


def energy_per_op_pj(hw: HardwareSpec, barrier_tiles: int | None = None) -> dict[str, float]:
    """Energy of one operation of each kind, in pJ. ``barrier_tiles``: tiles taking part in a
    barrier (default: all of them); matters only with ``barrier.per_tile_energy_pj``."""
    c, r = hw.core, hw.router
    return {
        "message_in": c.energy_message_in_pj,
        "synop": c.energy_synop_pj,
        "neuron_update_active": c.energy_neuron_update_active_pj,
        "neuron_update_idle": c.energy_neuron_update_idle_pj,
        "spike_out": c.energy_spike_out_pj,
        "synaptic_current": c.energy_synaptic_current_pj,
        "delay_write": c.energy_delay_write_pj,
        "delay_read": c.energy_delay_read_pj,
        "membrane_read": c.energy_membrane_read_pj,
        "spike_fired": c.energy_spike_fired_pj,
        "hop_ew": r.energy_hop_ew_pj,
        "hop_ns": r.energy_hop_ns_pj,
        "hop_chip": hw.chips.link_energy_pj or 0.0,
        "local": r.energy_local_pj,
        "barrier": hw.barrier.energy(hw.n_tiles if barrier_tiles is None else barrier_tiles),
    }


def energy_breakdown(
    ops: Mapping[str, int],
    hw: HardwareSpec,
    cycles: int,
    static_w: float | None = None,
    barrier_tiles: int | None = None,
    *,
    cycle_s: float | None = None,
) -> dict[str, float]:
    """Energy in joules by part: ``static`` plus one entry per operation, and ``total``.

    ``cycles``: the run's duration in cycles of the clock they were counted in, one cycle lasting
    ``cycle_s`` seconds (default ``hw.cycle_s``: cycles counted on ``hw`` itself). To re-cost a run
    on other hardware, pass the clock it ran on, so that the static energy covers the run's
    duration in seconds: ``energy_breakdown(s.ops, other_hw, s.cycles, cycle_s=result.hardware.cycle_s)``.
    ``static_w``: static power in watts (default ``hw.static_power_w()``, every unit powered).
    The parts sum to the total (checked: this is one of the conservation checks)."""
    per = energy_per_op_pj(hw, barrier_tiles)
    parts = {op: ops.get(op, 0) * per[op] * _PJ for op in OPS}
    seconds = cycles * (hw.cycle_s if cycle_s is None else cycle_s)
    parts["static"] = (hw.static_power_w() if static_w is None else static_w) * seconds
    total = sum(parts.values())
    parts["total"] = total
    return parts
