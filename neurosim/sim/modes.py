"""The execution modes (docs/design.md, "Execution modes") and the controller that runs a frame in each:
``sync`` (a barrier after every population), ``async`` with one global scheduler (the trainer's
unlayered forward) or with one scheduler per core (hardware timing)."""

from __future__ import annotations

from neurosim.sim.async_core import async_core_controller
from neurosim.sim.async_global import async_global_controller
from neurosim.sim.barrier import sync_controller

MODES = ("sync", "async")
SCOPES = ("global", "core")
CONTROLLERS = {
    ("sync", "global"): sync_controller,
    ("sync", "core"): sync_controller,
    ("async", "global"): async_global_controller,
    ("async", "core"): async_core_controller,
}
