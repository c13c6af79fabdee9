"""neurosim's hardware, network, mapping and stimulus as a SANA-FE 2.2.9 architecture and SNN, and
the DVS-gesture conv net that SANA-FE ships, as a neurosim Network (for bench_sanafe.py).

Costs come from the neurosim preset, per operation, as SANA-FE's pipeline units book them:

* soma: ``energy/latency_access_neuron`` = neurosim's *idle* update (every neuron, every step),
  ``energy/latency_update_neuron`` = active minus idle (the neurons SANA-FE marks updated: its rule
  is ``v != 0``, an input, or a bias, neurosim's ``core.update_rule: nonzero_state``),
  ``energy/latency_spike_out`` = neurosim's ``spike_fired`` (per fired neuron);
* axon out: ``energy/latency_message_out`` = neurosim's ``spike_out`` (booked per message in both);
* axon in: ``message_in``; synapse: ``synop`` (``ns_synapse``), and one synapse unit per
  ``core.synapse_units`` entry (``ns_synapse_<unit>``), the default of the groups whose incoming
  projections name it (``Projection.synapse_unit``); tile hops: ``hop_ew`` / ``hop_ns``;
* barrier: SANA-FE's ``sync_model: table`` with neurosim's barrier latency for 1..tiles tiles.

SANA-FE has no within-tile delivery cost (neurosim: ``local``), no barrier energy and no static
power: those parts of neurosim's energy have no counterpart and are reported apart.

Tiles: neurosim numbers them row-major (``tile = y * width + x``), SANA-FE column-major
(``tile = x * height + y``); a neurosim core maps to the SANA-FE core at the same (x, y, slot),
so every message crosses the same number of hops.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping, check_mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.errors import ConfigError, NetworkError
from neurosim.neuron import BOOL_FLAGS, NeuronParams

LIF_UNIT = "ns_lif"
SPARSE_CHUNK = 200_000  # synapses per connect_neurons_sparse call
INPUT_UNIT = "ns_input"


def arch_yaml(hw: HardwareSpec, input_units: int) -> str:
    """A SANA-FE architecture (YAML text) with ``hw``'s mesh, capacities and per-operation costs;
    ``input_units``: spike-source soma units per core (SANA-FE's input model holds one spike train
    per unit, so one per input neuron on the busiest core)."""
    if hw.n_chips != 1:
        raise ConfigError(f"hardware {hw.name!r}: {hw.n_chips} chips; the SANA-FE model covers one chip only")
    if hw.core.issue_width != 1:
        raise ConfigError(
            f"hardware {hw.name!r}: core.issue_width {hw.core.issue_width}; SANA-FE sends one message at a time (use 1)"
        )
    if hw.core.membrane_grid != 2.0**-6:
        print(
            f"note: hardware {hw.name!r}: core.membrane_grid {hw.core.membrane_grid}; SANA-FE's Loihi LIF always "
            "truncates the membrane to 1/64 after the leak (spikes differ with a leak and grid != 2**-6)"
        )
    c, r, s = hw.core, hw.router, hw.cycle_s
    e_upd = (c.energy_neuron_update_active_pj - c.energy_neuron_update_idle_pj) * 1e-12
    t_upd = (c.latency_neuron_update_active_cycles - c.latency_neuron_update_idle_cycles) * s
    sync = ", ".join(f"{n}: {hw.barrier.latency(n) * s:.6e}" for n in range(1, hw.n_tiles + 1))
    return f"""architecture:
  name: {hw.name}_from_neurosim
  attributes:
    topology: mesh
    width: {hw.mesh.width}
    height: {hw.mesh.height}
    link_buffer_size: {r.buffer_depth_msgs}
    sync_model: table
    latency_sync: {{{sync}}}
  tile:
    - name: tile[0..{hw.n_tiles - 1}]
      attributes:
        energy_north_hop: {r.energy_hop_ns_pj * 1e-12:.6e}
        latency_north_hop: {r.latency_hop_ns_cycles * s:.6e}
        energy_south_hop: {r.energy_hop_ns_pj * 1e-12:.6e}
        latency_south_hop: {r.latency_hop_ns_cycles * s:.6e}
        energy_east_hop: {r.energy_hop_ew_pj * 1e-12:.6e}
        latency_east_hop: {r.latency_hop_ew_cycles * s:.6e}
        energy_west_hop: {r.energy_hop_ew_pj * 1e-12:.6e}
        latency_west_hop: {r.latency_hop_ew_cycles * s:.6e}
      core:
        - name: core[0..{hw.mesh.cores_per_tile - 1}]
          attributes:
            buffer_position: soma
            buffer_inside_unit: false
            max_neurons_supported: {c.max_neurons}
          axon_in:
            - name: ns_axon_in
              attributes:
                energy_message_in: {c.energy_message_in_pj * 1e-12:.6e}
                latency_message_in: {c.latency_message_in_cycles * s:.6e}
          soma:
            - name: {LIF_UNIT}
              attributes:
                model: leaky_integrate_fire
                energy_access_neuron: {c.energy_neuron_update_idle_pj * 1e-12:.6e}
                latency_access_neuron: {c.latency_neuron_update_idle_cycles * s:.6e}
                energy_update_neuron: {e_upd:.6e}
                latency_update_neuron: {t_upd:.6e}
                energy_spike_out: {c.energy_spike_fired_pj * 1e-12:.6e}
                latency_spike_out: {c.latency_spike_fired_cycles * s:.6e}
            - name: {INPUT_UNIT}[0..{max(1, input_units) - 1}]
              attributes:
                model: input
                energy_access_neuron: 0.0
                latency_access_neuron: 0.0
                energy_update_neuron: 0.0
                latency_update_neuron: 0.0
                energy_spike_out: 0.0
                latency_spike_out: 0.0
          dendrite:
            - name: ns_dendrite
              attributes:
                model: accumulator
                energy_update: 0.0
                latency_update: 0.0
          synapse:
            - name: ns_synapse
              attributes:
                model: current_based
                energy_process_spike: {c.energy_synop_pj * 1e-12:.6e}
                latency_process_spike: {c.latency_synop_cycles * s:.6e}
{_unit_yaml(hw)}          axon_out:
            - name: ns_axon_out
              attributes:
                energy_message_out: {c.energy_spike_out_pj * 1e-12:.6e}
                latency_message_out: {c.latency_spike_out_cycles * s:.6e}
"""


def synapse_unit_name(unit: str | None) -> str:
    """SANA-FE's synapse unit for neurosim's ``Projection.synapse_unit`` (None: the core's figures)."""
    return "ns_synapse" if unit is None else f"ns_synapse_{unit}"


def _unit_yaml(hw: HardwareSpec) -> str:
    """One SANA-FE synapse unit per ``core.synapse_units`` entry (its per-spike energy and latency)."""
    s = hw.cycle_s
    return "".join(
        f"""            - name: {synapse_unit_name(name)}
              attributes:
                model: current_based
                energy_process_spike: {u.energy_synop_pj * 1e-12:.6e}
                latency_process_spike: {u.latency_synop_cycles * s:.6e}
"""
        for name, u in hw.core.synapse_units.items()
    )


def sanafe_core(hw: HardwareSpec, core: int) -> tuple[int, int]:
    """(SANA-FE tile id, core offset) of neurosim's physical ``core`` (same x, y and slot)."""
    x, y = hw.tile_xy(int(core))
    return int(x) * hw.mesh.height + int(y), int(core) % hw.mesh.cores_per_tile


def input_units_needed(net: Network, mapping: Mapping) -> int:
    """Input neurons on the busiest core (one SANA-FE input unit each)."""
    return int(np.bincount(mapping.core_of[net.span(net.input)]).max())


def _uniform(p: Population) -> dict:
    """SANA-FE LIF attributes of a population whose neurons share one set of parameters; refuses
    what SANA-FE's LIF cannot mirror."""
    q: NeuronParams = p.neurons
    for flag, default in BOOL_FLAGS.items():
        if np.any(getattr(q, flag) != default):
            raise NetworkError(f"population {p.name!r}: neuron switch {flag!r} has no SANA-FE LIF counterpart")
    attrs: dict[str, float | str] = {}
    for field, key in (("decay", "leak_decay"), ("threshold", "threshold"), ("v_reset", "reset"), ("bias", "bias")):
        vals = np.unique(getattr(q, field))
        if vals.size != 1:
            raise NetworkError(f"population {p.name!r}: {field} varies across neurons; give one value per population")
        attrs[key] = float(vals[0])
    sub = np.unique(q.subtract)
    if sub.size != 1:
        raise NetworkError(f"population {p.name!r}: reset mode varies across neurons; give one per population")
    attrs["reset_mode"] = "soft" if sub[0] else "hard"
    if attrs["reset_mode"] == "soft" and attrs["reset"] != 0.0:
        raise NetworkError(f"population {p.name!r}: reset by subtraction with v_reset != 0 has no SANA-FE counterpart")
    attrs["input_decay"] = 0.0  # a plain (not current-based) LIF: the input current lasts one step
    return attrs


def _incoming_unit(net: Network, target: str) -> str | None:
    """The synapse unit of the projections into ``target``: SANA-FE picks a synapse's unit by its
    target neuron (the group's ``default_synapse_hw_name``; a connection's own one is ignored in
    2.2.9), so the projections into one population must agree."""
    units = {pr.synapse_unit for pr in net.projections if pr.target == target}
    if len(units) > 1:
        raise NetworkError(
            f"population {target!r}: its incoming projections name synapse units {sorted(map(str, units))}; "
            "SANA-FE picks one unit per target neuron (give them one unit)"
        )
    return units.pop() if units else None


def build_snn(sanafe, arch, hw: HardwareSpec, net: Network, mapping: Mapping, stim: np.ndarray, *, log_spikes: bool):
    """The SANA-FE Network of ``net`` (same weights, parameters and neuron-by-neuron mapping) with
    the input spike trains ``stim`` (frames x input neurons, bool). Returns (network, groups,
    seconds spent building the groups and synapses, and mapping the neurons)."""
    for pr in net.projections:
        if pr.delay != 0 or net.is_recurrent(pr):
            raise NetworkError(
                f"projection {pr.source}->{pr.target}: delayed or recurrent projections are not converted to SANA-FE"
            )
    t0 = time.perf_counter()
    snn = sanafe.Network()
    groups = {}
    cores = [[t.cores[k] for k in range(len(t.cores))] for t in arch.tiles]
    for p in net.populations:
        if p.kind == "input":
            g = snn.create_neuron_group(p.name, p.size, log_spikes=log_spikes, soma_hw_name=f"{INPUT_UNIT}[0]")
        else:
            g = snn.create_neuron_group(
                p.name,
                p.size,
                model_attributes=_uniform(p),
                log_spikes=log_spikes,
                soma_hw_name=LIF_UNIT,
                default_synapse_hw_name=synapse_unit_name(_incoming_unit(net, p.name)),
            )
        groups[p.name] = g
    for pr in net.projections:
        w = sp.csr_array(pr.weights)
        src, dst = groups[pr.source], groups[pr.target]
        if w.nnz == w.shape[0] * w.shape[1]:
            src.connect_neurons_dense(dst, {"w": w.toarray().ravel().astype(np.float64)})
        else:
            coo = w.tocoo()
            for k in range(0, coo.nnz, SPARSE_CHUNK):  # in chunks: the pair lists are Python objects
                sl = slice(k, k + SPARSE_CHUNK)
                pairs = np.stack([coo.row[sl], coo.col[sl]], axis=1).tolist()
                src.connect_neurons_sparse(dst, {"w": coo.data[sl].astype(np.float64)}, pairs)
    t_connect = time.perf_counter() - t0
    # map neuron by neuron; input neurons take one input unit each (in index order per core)
    slot_of_core: dict[int, int] = {}
    for p in net.populations:
        span = net.span(p.name)
        g = groups[p.name]
        core_of = mapping.core_of[span]
        for i in range(p.size):
            tile, off = sanafe_core(hw, int(core_of[i]))
            n = g[i]
            if p.kind == "input":
                k = slot_of_core.get(int(core_of[i]), 0)
                slot_of_core[int(core_of[i])] = k + 1
                n.set_attributes(
                    soma_hw_name=f"{INPUT_UNIT}[{k}]", model_attributes={"spikes": stim[:, i].astype(bool).tolist()}
                )
            n.map_to_core(cores[tile][off])
    return snn, groups, {"snn": t_connect, "mapping": time.perf_counter() - t0 - t_connect}


# ---- the DVS-gesture conv net SANA-FE ships (tutorial 5), as a neurosim Network -------------------

DVS_SHAPES = {  # (channels, height, width) of each population
    "input": (1, 32, 32),
    "conv1": (16, 15, 15),
    "conv2": (32, 13, 13),
    "conv3": (64, 11, 11),
    "conv4": (11, 9, 9),
    "dense1": (11, 1, 1),
}
DVS_LAYERS = (  # (name, kernel key, stride) after the 32x32x1 input
    ("conv1", "conv1", 2),
    ("conv2", "conv2", 1),
    ("conv3", "conv3", 1),
    ("conv4", "conv4", 1),
)


def conv2d_matrix(kernel: np.ndarray, in_chw: tuple[int, int, int], stride: int) -> tuple[sp.csr_array, tuple]:
    """SANA-FE's conv2d connectivity (no padding; neurons channel-major ``c*H*W + y*W + x``;
    ``kernel[ky, kx, c_in, c_out]``) as a (source x target) weight matrix, and the output (C, H, W)."""
    kh, kw, cin, cout = kernel.shape
    c, h, w = in_chw
    if cin != c:
        raise NetworkError(f"conv kernel has {cin} input channels, the layer before has {c}")
    oh, ow = 1 + (h - kh) // stride, 1 + (w - kw) // stride
    co, yo, xo, ci, ky, kx = np.meshgrid(
        np.arange(cout), np.arange(oh), np.arange(ow), np.arange(cin), np.arange(kh), np.arange(kw), indexing="ij"
    )
    dst = (co * oh * ow + yo * ow + xo).ravel()
    src = (ci * h * w + (yo * stride + ky) * w + (xo * stride + kx)).ravel()
    val = kernel[ky.ravel(), kx.ravel(), ci.ravel(), co.ravel()]
    m = sp.csr_array((val.astype(np.float32), (src, dst)), shape=(c * h * w, cout * oh * ow))
    return m, (cout, oh, ow)


def dvs_network(data: dict) -> Network:
    """SANA-FE's DVS-gesture net (``sanafe/examples/dvs_challenge.npz``): 32x32x1 input, conv 3x3
    16 stride 2 (15x15x16), conv 3x3 32 (13x13x32), conv 3x3 64 (11x11x64), conv 3x3 11 (9x9x11),
    dense 11: 18,678 neurons. Integrate-and-fire (no leak), hard reset to 0, the npz thresholds.
    Zero kernel entries are no synapse here (neurosim drops zero weights; so does the SANA-FE
    copy built from this Network)."""
    thr = data["thresholds"]
    pops = [Population("input", "input", (1024,))]
    projs = []
    shape = (1, 32, 32)
    for k, (name, key, stride) in enumerate(DVS_LAYERS, start=1):
        m, shape = conv2d_matrix(np.asarray(data[key], np.float32), shape, stride)
        n = int(np.prod(shape))
        pops.append(Population(name, "lif", (n,), NeuronParams.uniform(n, decay=1.0, threshold=float(thr[k]))))
        projs.append(Projection(pops[-2].name, name, m))
    dense = np.asarray(data["dense1"], np.float32)
    pops.append(Population("dense1", "lif", (11,), NeuronParams.uniform(11, decay=1.0, threshold=float(thr[5]))))
    projs.append(Projection("conv4", "dense1", sp.csr_array(dense)))
    return Network("dvs_gesture_sanafe", tuple(pops), tuple(projs), "input", "dense1", dt=1e-3)


def dvs_input_spikes(data: dict, steps: int) -> np.ndarray:
    """(steps x 1024) bool: the input layer of SANA-FE's tutorial, integrate-and-fire neurons driven
    by the npz biases (0..255) with threshold ``thresholds[0]``, hard reset, run ahead in numpy."""
    bias = np.asarray(data["inputs"], np.float64)
    thr = float(data["thresholds"][0])
    v = np.zeros(bias.size)
    out = np.zeros((steps, bias.size), bool)
    for t in range(steps):
        v = v + bias
        out[t] = v > thr
        v[out[t]] = 0.0
    return out


def dvs_mapping(net: Network, hw: HardwareSpec, cores_per_layer=(1, 8, 12, 24, 3, 1)) -> Mapping:
    """Each layer split over ``cores_per_layer`` consecutive physical cores (49 in all), neurons
    ordered position-major (pixel, then channel) so a core holds a band of rows and its fan-in
    stays under Loihi's 4,096 axons."""
    core_of = np.zeros(net.n_neurons, np.int64)
    nxt = 0
    for p, n_cores in zip(net.populations, cores_per_layer, strict=True):
        ch, h, w = DVS_SHAPES[p.name]
        if ch * h * w != p.size:
            raise NetworkError(f"population {p.name!r}: {p.size} neurons, expected {ch}x{h}x{w}")
        idx = np.arange(p.size).reshape(ch, h, w).transpose(1, 2, 0).ravel()  # position-major order
        chunk = np.array_split(idx, n_cores)
        base = net.span(p.name).start
        for j, part in enumerate(chunk):
            core_of[base + part] = nxt + j
        nxt += n_cores
    m = Mapping(core_of, strategy="dvs-bands", placement="row-major")
    check_mapping(net, hw, m)
    return m
