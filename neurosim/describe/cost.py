"""The cost model: counters x per-operation costs. Pure functions of counts and a hardware
description, so a run can be re-costed on other hardware figures without re-simulating.

energy = sum over operations (count x energy per op) + static power x elapsed time.
With synapse units (``core.synapse_units``) the ``synop`` part books each unit's synaptic
operations (``synop@<unit>``) at the unit's figure and the rest at ``core.energy_synop_pj``.

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

import math
from collections.abc import Mapping

from neurosim.describe.hardware import HardwareSpec
from neurosim.errors import ConfigError

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
UNIT_PREFIX = "synop@"
"""``synop@<unit>``: the part of ``synop`` done by the synapse unit ``<unit>`` (``core.synapse_units``,
``Projection.synapse_unit``); counted only in runs whose projections name units, beside ``synop``
(the total), and costed at the unit's ``energy_synop_pj`` (:func:`synop_energy_pj`)."""
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


def unit_synops(ops: Mapping[str, float]) -> dict[str, float]:
    """The synaptic operations done by each named synapse unit: the ``synop@<unit>`` counts."""
    return {op[len(UNIT_PREFIX) :]: k for op, k in ops.items() if op.startswith(UNIT_PREFIX)}


def core_energy_pj(ops: Mapping[str, float], hw: HardwareSpec) -> float:
    """Dynamic energy of the core operations ``ops`` (counts of ``CORE_OPS``, plus ``synop@<unit>``
    with synapse units; e.g. one core's counters, or their means per inference), in pJ."""
    per = energy_per_op_pj(hw)
    return synop_energy_pj(ops, hw) + math.fsum(ops.get(op, 0) * per[op] for op in CORE_OPS if op != "synop")


def unit_extra_pj(ops: Mapping[str, float], hw: HardwareSpec) -> float:
    """What the ``synop@<unit>`` counts of ``ops`` cost beyond the core's ``energy_synop_pj`` (0
    without synapse units): add it to an energy that booked every synop at the core's figure."""
    by_unit = unit_synops(ops)
    if not by_unit:
        return 0.0
    n = sum(by_unit.values())
    units = {UNIT_PREFIX + u: k for u, k in by_unit.items()}
    return synop_energy_pj({"synop": n, **units}, hw) - n * hw.core.energy_synop_pj


def synop_energy_pj(ops: Mapping[str, float], hw: HardwareSpec) -> float:
    """Energy of the synaptic operations in pJ: each ``synop@<unit>`` count at its unit's
    ``energy_synop_pj`` (``core.synapse_units``), the rest of ``synop`` at the core's figure.
    A unit the hardware does not define is refused (re-costing on hardware without it)."""
    c = hw.core
    by_unit = unit_synops(ops)
    total = ops.get("synop", 0)
    if not by_unit:
        return total * c.energy_synop_pj
    missing = sorted(set(by_unit) - set(c.synapse_units))
    if missing:
        raise ConfigError(
            f"hardware {hw.name!r}: core.synapse_units lacks {', '.join(missing)}, which the run's synaptic "
            "operations used; define them to cost this run on it"
        )
    rest = total - sum(by_unit.values())
    return rest * c.energy_synop_pj + sum(k * c.synapse_units[u].energy_synop_pj for u, k in by_unit.items())


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
    parts["synop"] = synop_energy_pj(ops, hw) * _PJ
    seconds = cycles * (hw.cycle_s if cycle_s is None else cycle_s)
    parts["static"] = (hw.static_power_w() if static_w is None else static_w) * seconds
    total = sum(parts.values())
    parts["total"] = total
    return parts
