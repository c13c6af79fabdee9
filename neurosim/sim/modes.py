"""The execution modes (docs/design.md, "Execution modes") and the controller that runs a frame in each:
``sync`` (a barrier after every population), ``async`` with one global scheduler (the trainer's
unlayered forward) or with one scheduler per core (hardware timing), and ``timestep`` (one barrier
per step, every spike integrated in a later step: Loihi's, TrueNorth's and SpiNNaker's scheme; the
scheduler scope does not apply)."""

from __future__ import annotations

from neurosim.sim.async_core import async_core_controller
from neurosim.sim.async_global import async_global_controller
from neurosim.sim.barrier import sync_controller
from neurosim.sim.timestep import timestep_controller

MODES = ("sync", "async", "timestep")
SCOPES = ("global", "core")
#: the engines that run them: the batched one and the SimPy process model (:mod:`neurosim.sim.process`)
ENGINES = ("fast", "reference")
#: asynctorch's options (docs/asynctorch.md) at their defaults: a run records those set otherwise
ASYNCTORCH_DEFAULTS = {
    "refrac_dropout": 0.0,
    "stop_on_output_frame": None,
    "prioritize_input": True,
    "momentum_noise": 0.0,
}
CONTROLLERS = {
    ("sync", "global"): sync_controller,
    ("sync", "core"): sync_controller,
    ("async", "global"): async_global_controller,
    ("async", "core"): async_core_controller,
    ("timestep", "global"): timestep_controller,
    ("timestep", "core"): timestep_controller,
}
