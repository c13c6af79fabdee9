"""The hardware description: a mesh of tiles, each a router and N cores, with per-operation costs;
optionally a grid of such chips joined by chip-to-chip links.

Loaded from YAML (``hw_configs/*.yaml``) into frozen, validated pydantic objects. Every cost is
named ``latency_<op>_cycles`` or ``energy_<op>_pj``; time is integer cycles of the core clock.
A malformed file fails at load with ``file:line: key.path: reason``.

Several chips: ``mesh`` describes one chip; ``chips`` (default one chip) tiles ``chips.width x
chips.height`` of them into one *global* mesh of ``grid_width x grid_height`` tiles
(``grid_width = chips.width * mesh.width``). Tiles are numbered row-major over the global mesh
and cores tile-major (core ``c`` is on tile ``c // cores_per_tile``), so ``n_tiles``, ``n_cores``
and ``tile_xy`` need no knowledge of chips; a hop between two tiles of different chips costs the
``chips.link_*`` figures instead of the router's hop figures.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from neurosim.yamlfile import error_reason

FORMAT = "neurosim-hardware/1"

# ---- limits -------------------------------------------------------------------------------------
# Every number has a documented range (hw_configs/README.md, "Limits"), generous for real hardware
# and small enough that all arithmetic on it stays finite and exact: a run's cycle counts stay far
# below 2**63 and its energies far below the largest float. A value outside is refused at load.
MAX_CORES = 1_000_000
"""Most cores in all (mesh tiles x cores per tile x chips); checked before anything is allocated."""
MAX_TILES = 65_536
"""Most tiles of the global mesh (all chips), e.g. 256 x 256."""
MAX_LATENCY_CYCLES = 10**9
"""Largest per-operation latency (cycles): a message, a synaptic operation, a hop, a barrier."""
MAX_FRAME_PERIOD_CYCLES = 10**12
"""Largest ``chip.frame_period_cycles``."""
MAX_ENERGY_PJ = 1e9
"""Largest energy of one operation: 1e9 pJ = 1 mJ."""
MAX_POWER_MW = 1e6
"""Largest static power of one core, router or chip: 1e6 mW = 1 kW."""
MIN_CLOCK_MHZ, MAX_CLOCK_MHZ = 1e-6, 1e6
"""Core clock range: 1 Hz to 1e12 Hz (1 THz)."""
MAX_NEURONS_PER_CORE = 10**8
MAX_FAN_IN = 10**9
MAX_SYNAPSES_PER_CORE = 10**12
MAX_ISSUE_WIDTH = 10**6
MIN_BANDWIDTH, MAX_BANDWIDTH = 1e-9, 1e6
"""Link bandwidth range (messages per cycle): a message occupies a link for at most 1e9 cycles."""
MAX_BUFFER_DEPTH = 10**6
MAX_BARRIER_ROWS = 10_000
MAX_SYNAPSE_UNITS = 1_000
"""Most named synapse units of a core (``core.synapse_units``)."""

# Numbers are strict: a YAML string ("64"), a boolean (yes/true would read as 1) or a float with an
# integer value (4.0) is a wrong type, not silently coerced; an int is accepted where a float is
# expected; .inf and .nan are rejected.
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
PositiveFloat = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
StrictBool = Annotated[bool, Strict()]  # only YAML true/false; 1, "yes" (quoted) are wrong types


def _within(lo: float | None = None, hi: float | None = None, unit: str = "") -> AfterValidator:
    """A range check whose message names the documented limit (after the type's own checks)."""
    unit = f" {unit}" if unit else ""

    def check(v):
        if v is not None and hi is not None and v > hi:
            raise ValueError(f"over the limit of {hi:g}{unit} (hw_configs/README.md, Limits)")
        if v is not None and lo is not None and v < lo:
            raise ValueError(f"under the limit of {lo:g}{unit} (hw_configs/README.md, Limits)")
        return v

    return AfterValidator(check)


Count = Annotated[PositiveInt, _within(hi=MAX_CORES)]  # tiles, cores, chips along one side
Cycles = Annotated[NonNegativeInt, _within(hi=MAX_LATENCY_CYCLES, unit="cycles")]
EnergyPJ = Annotated[NonNegativeFloat, _within(hi=MAX_ENERGY_PJ, unit="pJ per operation")]
PowerMW = Annotated[NonNegativeFloat, _within(hi=MAX_POWER_MW, unit="mW")]
Bandwidth = Annotated[PositiveFloat, _within(MIN_BANDWIDTH, MAX_BANDWIDTH, "messages per cycle")]


def _plain_name(v: str) -> str:
    if any(c in "/\\" or ord(c) < 32 for c in v) or v in (".", ".."):
        raise ValueError("a name may not contain '/', '\\' or control characters, nor be '.' or '..'")
    return v


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_name)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class MeshSpec(_Frozen):
    width: Count
    height: Count
    cores_per_tile: Count


def _grid(v: float) -> float:
    if v != 0 and (v > 1 or math.frexp(v)[0] != 0.5 or v < 2.0**-60):
        raise ValueError(f"membrane_grid must be 0 (off) or a power of two 2**-k, k = 0..60, got {v!r}")
    return v


class SynapseUnitSpec(_Frozen):
    """A synapse unit (SANA-FE's ``synapse`` units): the cost of one synaptic operation of the
    projections that name it (``Projection.synapse_unit``), in place of the core's
    ``energy_synop_pj`` / ``latency_synop_cycles``."""

    energy_synop_pj: EnergyPJ = Field(description="energy of one synaptic operation of this unit")
    latency_synop_cycles: Cycles = Field(description="core cycles of one synaptic operation of this unit")


def _unit_names(units: dict) -> dict:
    for name in units:
        if not name or len(name) > 200 or any(c in "@/\\" or ord(c) < 32 or c.isspace() for c in name):
            raise ValueError(
                f"synapse unit name {name!r}: 1..200 characters, no '@', '/', '\\', spaces or control characters"
            )
    return units


class CoreSpec(_Frozen):
    """One neuromorphic core: capacity, clock, and what each operation costs."""

    max_neurons: Annotated[PositiveInt, _within(hi=MAX_NEURONS_PER_CORE, unit="neurons")]
    max_fan_in: Annotated[PositiveInt, _within(hi=MAX_FAN_IN)] = Field(
        description="distinct source neurons (axons) a core can receive from"
    )
    max_synapses: Annotated[PositiveInt, _within(hi=MAX_SYNAPSES_PER_CORE)] | None = Field(
        None, description="synapses stored per core (None: unlimited)"
    )
    clock_mhz: Annotated[PositiveFloat, _within(MIN_CLOCK_MHZ, MAX_CLOCK_MHZ, "MHz")]
    issue_width: Annotated[PositiveInt, _within(hi=MAX_ISSUE_WIDTH)] = Field(
        1, description="spikes a core can send per asynchronous step"
    )
    latency_message_in_cycles: Cycles
    latency_synop_cycles: Cycles
    latency_neuron_update_active_cycles: Cycles
    latency_neuron_update_idle_cycles: Cycles
    latency_spike_out_cycles: Cycles
    energy_message_in_pj: EnergyPJ
    energy_synop_pj: EnergyPJ
    energy_neuron_update_active_pj: EnergyPJ
    energy_neuron_update_idle_pj: EnergyPJ
    energy_spike_out_pj: EnergyPJ
    static_power_mw: PowerMW = 0.0
    # the extended neuron model (default 0: a file written before them costs nothing extra)
    latency_synaptic_current_cycles: Cycles = Field(
        0, description="synaptic-current update of a cuba neuron, per neuron per frame (beside its neuron update)"
    )
    energy_synaptic_current_pj: EnergyPJ = Field(0.0, description="synaptic-current update of a cuba neuron")
    latency_delay_write_cycles: Cycles = Field(
        0, description="a delayed synapse writes its current into the delay ring buffer, per synapse"
    )
    energy_delay_write_pj: EnergyPJ = Field(0.0, description="a delay ring-buffer write, per synapse")
    latency_delay_read_cycles: Cycles = Field(
        0, description="a neuron with delayed inputs reads and clears its ring slot, per neuron per frame"
    )
    energy_delay_read_pj: EnergyPJ = Field(0.0, description="a delay ring-buffer slot read, per neuron per frame")
    latency_membrane_read_cycles: Cycles = Field(
        0, description="the membrane of a non-spiking output neuron is read out, per neuron per frame"
    )
    energy_membrane_read_pj: EnergyPJ = Field(0.0, description="a membrane read-out, per neuron per frame")
    # Loihi's cost and arithmetic details (defaults: the model as it was before them)
    latency_spike_fired_cycles: Cycles = Field(
        0, description="a neuron fires (soma spike generation), per spiking neuron per frame, beside spike_out"
    )
    energy_spike_fired_pj: EnergyPJ = Field(
        0.0, description="a neuron fires, per spiking neuron per frame (SANA-FE's soma energy_spike_out)"
    )
    update_rule: Literal["input_or_spike", "nonzero_state", "all"] = Field(
        "input_or_spike",
        description="which neurons pay the active update: input_or_spike (a non-zero net input, a non-zero "
        "synaptic current or a spike), nonzero_state (also a non-zero membrane or synaptic current at the frame "
        "start, or a non-zero bias: SANA-FE's Loihi rule), all (every neuron, every frame)",
    )
    membrane_grid: Annotated[NonNegativeFloat, AfterValidator(_grid)] = Field(
        0.0,
        description="0: off; else a power of two 2**-k: after the leak the membrane is truncated toward zero "
        "to this grid (Loihi's integer arithmetic; SANA-FE's loihi_quantize uses 2**-6)",
    )
    synapse_units: Annotated[dict[str, SynapseUnitSpec], AfterValidator(_unit_names)] = Field(
        {},
        max_length=MAX_SYNAPSE_UNITS,
        description="named synapse units {name: {energy_synop_pj, latency_synop_cycles}}: a projection naming "
        "one (Projection.synapse_unit) pays its figures per synaptic operation instead of the core's synop "
        "figures (SANA-FE's synapse units: arch/loihi.yaml has dense, sparse and conv ones); empty: one figure",
    )


class RouterSpec(_Frozen):
    """A tile's router: XY dimension-order routing, per-hop costs by direction."""

    latency_hop_ew_cycles: Cycles
    latency_hop_ns_cycles: Cycles
    energy_hop_ew_pj: EnergyPJ
    energy_hop_ns_pj: EnergyPJ
    latency_local_cycles: Cycles = Field(0, description="delivery between cores of one tile")
    energy_local_pj: EnergyPJ = 0.0
    link_bandwidth_msgs_per_cycle: Bandwidth = 1.0
    buffer_depth_msgs: Annotated[PositiveInt, _within(hi=MAX_BUFFER_DEPTH, unit="messages")] = 16
    delivery: Literal["unicast", "multicast"] = "unicast"
    contention: StrictBool = Field(
        True,
        description="model link contention and finite buffers (False: every message takes the contention-free latency)",
    )
    static_power_mw: PowerMW = 0.0

    @property
    def service_cycles(self) -> int:
        """Cycles a message occupies a link: ``ceil(1 / link_bandwidth_msgs_per_cycle)``, at least 1."""
        return service_cycles(self.link_bandwidth_msgs_per_cycle)


def service_cycles(bandwidth_msgs_per_cycle: float) -> int:
    """Whole cycles one message occupies a link of the given bandwidth (at least one: a link
    accepts at most one message per cycle; 1e-9 absorbs float error, so 1/0.025 is 40, not 41)."""
    return max(1, math.ceil(1.0 / bandwidth_msgs_per_cycle - 1e-9))


class BarrierSpec(_Frozen):
    """Barrier synchronisation: latency as a table of (tiles taking part, cycles), linearly
    interpolated and held constant beyond its ends; an energy per barrier of
    ``energy_pj + per_tile_energy_pj * tiles``."""

    latency_cycles: list[tuple[Count, Cycles]] = Field(min_length=1, max_length=MAX_BARRIER_ROWS)
    energy_pj: EnergyPJ = 0.0
    per_tile_energy_pj: EnergyPJ = 0.0

    @field_validator("latency_cycles")
    @classmethod
    def _sorted(cls, table):  # a field validator, so the error names barrier.latency_cycles
        tiles = [t for t, _ in table]
        if tiles != sorted(set(tiles)):
            raise ValueError("latency_cycles must list strictly increasing tile counts")
        return table

    def latency(self, tiles: int) -> int:
        t, c = zip(*self.latency_cycles)
        return int(round(float(np.interp(tiles, t, c))))

    def energy(self, tiles: int) -> float:
        """Energy of one barrier over ``tiles`` tiles, in pJ."""
        return self.energy_pj + self.per_tile_energy_pj * tiles


class ChipSpec(_Frozen):
    static_power_mw: PowerMW = Field(0.0, description="static power of each chip as a whole")
    power_gating: StrictBool = Field(False, description="unused cores, routers and chips draw no static power")
    frame_period_cycles: Annotated[NonNegativeInt, _within(hi=MAX_FRAME_PERIOD_CYCLES, unit="cycles")] = Field(
        0,
        description="minimum duration of a frame (a fixed timestep tick, e.g. TrueNorth's 1 ms); "
        "0: a frame lasts as long as its work (Loihi advances when all cores are done)",
    )


class ChipGridSpec(_Frozen):
    """A grid of identical chips joined by chip-to-chip links (default: one chip). A hop between
    tiles of two chips costs ``link_latency_cycles`` / ``link_energy_pj`` and occupies the link
    for ``ceil(1 / link_bandwidth_msgs_per_cycle)`` cycles; its buffer is ``router.buffer_depth_msgs``."""

    width: Count = 1
    height: Count = 1
    link_latency_cycles: Cycles | None = None
    link_energy_pj: EnergyPJ | None = None
    link_bandwidth_msgs_per_cycle: Bandwidth | None = None

    @model_validator(mode="after")
    def _links_given(self):
        missing = [
            k
            for k in ("link_latency_cycles", "link_energy_pj", "link_bandwidth_msgs_per_cycle")
            if getattr(self, k) is None
        ]
        if self.width * self.height > 1 and missing:
            raise ValueError(
                f"a grid of {self.width}x{self.height} chips needs the chip-to-chip link "
                f"figures; missing: {', '.join(missing)}"
            )
        return self

    @property
    def service_cycles(self) -> int | None:
        bw = self.link_bandwidth_msgs_per_cycle
        return None if bw is None else service_cycles(bw)


class HardwareSpec(_Frozen):
    format: Literal["neurosim-hardware/1"]
    name: Name
    description: str = ""
    mesh: MeshSpec
    core: CoreSpec
    router: RouterSpec
    barrier: BarrierSpec
    chip: ChipSpec = ChipSpec()
    chips: ChipGridSpec = ChipGridSpec()
    source: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _bounded(self):
        """Total tiles and cores within ``MAX_TILES`` / ``MAX_CORES``, before anything is built
        on them (Python integers: no overflow whatever the sizes)."""
        m, c = self.mesh, self.chips
        tiles = f"mesh.width {m.width} x mesh.height {m.height} x chips.width {c.width} x chips.height {c.height}"
        if self.n_tiles > MAX_TILES:
            raise ValueError(f"{tiles} = {self.n_tiles} tiles in all, over the limit of {MAX_TILES}")
        if self.n_cores > MAX_CORES:
            raise ValueError(
                f"{tiles} x mesh.cores_per_tile {m.cores_per_tile} = {self.n_cores} cores in all, "
                f"over the limit of {MAX_CORES}"
            )
        return self

    # ---- derived: geometry of the global mesh ---------------------------------------------------
    @property
    def n_chips(self) -> int:
        return self.chips.width * self.chips.height

    @property
    def grid_width(self) -> int:
        """Tiles along x of the global mesh (all chips)."""
        return self.chips.width * self.mesh.width

    @property
    def grid_height(self) -> int:
        """Tiles along y of the global mesh (all chips)."""
        return self.chips.height * self.mesh.height

    @property
    def n_tiles(self) -> int:
        return self.grid_width * self.grid_height

    @property
    def n_cores(self) -> int:
        return self.n_tiles * self.mesh.cores_per_tile

    @property
    def cycle_s(self) -> float:
        return 1e-6 / self.core.clock_mhz

    def tile_xy(self, core: int | np.ndarray) -> tuple[Any, Any]:
        """Global mesh position (x, y) of a physical core, or of an array of cores (numbered
        tile-major, row-major tiles)."""
        tile = core // self.mesh.cores_per_tile
        return tile % self.grid_width, tile // self.grid_width

    def chip_of_tile(self, tile):
        """Chip index (row-major over the chip grid) of a tile, or of an array of tiles."""
        tile = np.asarray(tile)
        x, y = tile % self.grid_width, tile // self.grid_width
        out = (y // self.mesh.height) * self.chips.width + x // self.mesh.width
        return int(out) if out.ndim == 0 else out

    # ---- static power --------------------------------------------------------------------------
    def static_power_w(self, used_cores=None, used_tiles=None) -> float:
        """Static power in watts.

        Without ``chip.power_gating`` (or with neither argument) every unit draws static power:
        ``n_chips * chip + n_cores * core + n_tiles * router``. With power gating only the units in
        use do: the cores in ``used_cores`` (ids), the routers of ``used_tiles`` (ids; default: the
        tiles of the used cores; pass also the tiles whose routers only forward traffic), and the
        chips holding a used tile. ``used_tiles`` alone powers every core of those tiles."""
        mw = self.core.static_power_mw, self.router.static_power_mw, self.chip.static_power_mw
        if not self.chip.power_gating or (used_cores is None and used_tiles is None):
            n_cores, n_tiles, n_chips = self.n_cores, self.n_tiles, self.n_chips
        else:
            cores = None if used_cores is None else self._ids(used_cores, self.n_cores, "core")
            if used_tiles is not None:
                tiles = self._ids(used_tiles, self.n_tiles, "tile")
            else:
                assert cores is not None  # one of the two is given on this branch
                tiles = np.unique(cores // self.mesh.cores_per_tile)
            n_cores = cores.size if cores is not None else tiles.size * self.mesh.cores_per_tile
            n_tiles = tiles.size
            n_chips = np.unique(self.chip_of_tile(tiles)).size if tiles.size else 0
        return 1e-3 * (n_chips * mw[2] + n_cores * mw[0] + n_tiles * mw[1])

    @staticmethod
    def _ids(ids, n: int, what: str) -> np.ndarray:
        a = np.unique(np.asarray(ids, np.int64).ravel())
        if a.size and (a[0] < 0 or a[-1] >= n):
            raise ValueError(f"{what} ids must lie in 0..{n - 1}, got {int(a[0] if a[0] < 0 else a[-1])}")
        return a

    # ---- peak figures --------------------------------------------------------------------------
    def bisection_links(self) -> tuple[int, float]:
        """The narrower of the two cuts through the middle of the global mesh: (links crossing it
        in one direction, their total bandwidth in messages per cycle, one direction). A cut that
        falls on a chip boundary crosses chip-to-chip links. A mesh one tile wide along an axis
        cannot be cut along it; a 1x1 mesh has no links (0, 0.0). Bandwidths are the effective ones
        of the NoC model, one message per ``service_cycles`` whole cycles."""
        gw, gh = self.grid_width, self.grid_height
        bw_router = 1.0 / self.router.service_cycles  # effective: whole cycles per message
        bw_chip = 1.0 / (self.chips.service_cycles or self.router.service_cycles)
        cuts = []
        if gw > 1:  # vertical cut between columns gw//2 - 1 and gw//2: one link per row
            on_chip_edge = (gw // 2) % self.mesh.width == 0
            cuts.append((gh, gh * (bw_chip if on_chip_edge else bw_router)))
        if gh > 1:  # horizontal cut: one link per column
            on_chip_edge = (gh // 2) % self.mesh.height == 0
            cuts.append((gw, gw * (bw_chip if on_chip_edge else bw_router)))
        if not cuts:
            return 0, 0.0
        return min(cuts, key=lambda c: (c[1], c[0]))

    def peak_figures(self) -> dict[str, float | int | None]:
        """Derived peak figures: synaptic operations per second (per core and in all), energy per
        synaptic operation, neurons and synapses in all, the bisection bandwidth of the global mesh
        (messages per cycle and per second, each direction) and a link's throughput."""
        c = self.core
        f = c.clock_mhz * 1e6
        per_core = f / max(c.latency_synop_cycles, 1)
        links, bisection = self.bisection_links()
        figures: dict[str, float | int | None] = {
            "synops_per_s_per_core": per_core,
            "synops_per_s": per_core * self.n_cores,
            "energy_per_synop_pj": c.energy_synop_pj,
            "neurons": self.n_cores * c.max_neurons,
            "synapses": None if c.max_synapses is None else self.n_cores * c.max_synapses,
            "link_msgs_per_s": f / self.router.service_cycles,
            "bisection_links": links,
            "bisection_msgs_per_cycle": bisection,
            "bisection_msgs_per_s": bisection * f,
        }
        return figures


def value_error(model: type[BaseModel], dotted: str, value: Any) -> str | None:
    """Why ``value`` cannot stand for the key ``dotted`` of ``model`` on its own (its type and range;
    checks across keys are left to the whole model), or None when it can. ``dotted`` must be
    :func:`in_schema`."""
    try:
        _adapter(model, dotted).validate_python(value)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {error_reason(err)}" if where else error_reason(err)
    return None


@functools.lru_cache(maxsize=256)
def _adapter(model: type[BaseModel], dotted: str) -> TypeAdapter:
    """The validator of one key: its type with its constraints (built once per key)."""
    keys = dotted.split(".")
    for k in keys[:-1]:
        model = model.model_fields[k].annotation  # type: ignore[assignment]  # a section (in_schema)
    field = model.model_fields[keys[-1]]
    kind: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return TypeAdapter(kind)


def in_schema(model: type[BaseModel], dotted: str) -> bool:
    """Whether ``dotted`` ('core.max_neurons') names a field of ``model`` or of its sections."""
    keys = dotted.split(".")
    for i, k in enumerate(keys):
        field = model.model_fields.get(k)
        if field is None or field.exclude:
            return False
        if i < len(keys) - 1:
            section = field.annotation
            if not (isinstance(section, type) and issubclass(section, BaseModel)):
                return False
            model = section
    return True
