"""Hardware presets (hw_configs/*.yaml) and the hardware loader's validation.

- every shipped preset loads, writes every schema key, and comments every constant;
- the Loihi presets (one chip, two chips) reproduce each published figure they cite (Davies et al.
  2018, Table 2; SANA-FE / Boyle et al. 2025), converting cycles back to seconds with the preset's
  clock; TrueNorth reproduces Merolla et al. 2014;
- the schema additions: chip grids (geometry, chip-link figures required), power gating, the
  contention switch, per-tile barrier energy, derived peak figures; ``neurosim hw describe``;
- overrides work, and a bad override key is a ConfigError;
- malformed files each fail with ONE-line ConfigError naming the file, the line and the key path.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from neurosim.describe.hardware import FORMAT, HardwareSpec
from neurosim.errors import ConfigError
from neurosim.io.hardware_file import load_hardware, preset_path
from neurosim.paths import HW_DIR
from neurosim.yamlfile import load_yaml

PRESETS = ["loihi", "loihi_2chip", "seneca", "small", "truenorth"]
NS = 1e-9


# ---- presets load --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads(name):
    hw = load_hardware(preset_path(name))
    assert isinstance(hw, HardwareSpec)
    assert hw.format == FORMAT
    assert hw.name == name
    assert hw.source == str(preset_path(name))
    assert hw.n_cores == hw.grid_width * hw.grid_height * hw.mesh.cores_per_tile
    assert hw.n_tiles * hw.mesh.cores_per_tile == hw.n_cores
    assert hw.cycle_s > 0 and hw.static_power_w() >= 0


def _schema_leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out |= _schema_leaves(ann, f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


def _leaf_lines(path: Path) -> dict[str, int]:
    """Dotted key path -> line of every scalar/list value in a YAML file."""
    doc = load_yaml(path)

    def walk(d, prefix):
        for k, v in d.items():
            if isinstance(v, dict) and v:  # an empty map (core.synapse_units: {}) is a written value
                yield from walk(v, prefix + (k,))
            else:
                yield ".".join(prefix + (k,)), doc.lines[prefix + (k,)]

    return dict(walk(doc.data, ()))


@pytest.mark.parametrize("name", PRESETS)
def test_preset_writes_every_schema_key(name):
    """Presets spell out every key (defaults included), so a reader sees every figure in use."""
    assert set(_leaf_lines(preset_path(name))) == _schema_leaves(HardwareSpec)


SOURCE_WORDS = re.compile(r"assumed|derived|Davies|SANA-FE|Boyle|Tang 2023|Frady|Merolla|fictional", re.I)


@pytest.mark.parametrize("name", PRESETS)
def test_every_constant_has_a_comment_citing_a_source_or_an_assumption(name):
    path = preset_path(name)
    text = path.read_text().splitlines()
    for key, line in _leaf_lines(path).items():
        if key in ("format", "name", "description"):
            continue
        same = text[line - 1].split("#", 1)[1] if "#" in text[line - 1] else ""
        above = []  # the comment block right above the key
        i = line - 2
        while i >= 0 and text[i].lstrip().startswith("#"):
            above.append(text[i])
            i -= 1
        comment = same + " ".join(above)
        assert SOURCE_WORDS.search(comment), f"{path.name}:{line}: {key} has no source or 'assumed' comment"


def test_readme_documents_every_key_and_preset():
    readme = (HW_DIR / "README.md").read_text()
    for key in _schema_leaves(HardwareSpec):
        assert f"`{key.split('.')[-1]}`" in readme, key
    for name in PRESETS:
        assert f"{name}.yaml" in readme


# ---- Loihi reproduces the published figures -------------------------------------------------------
@pytest.fixture(scope="module", params=["loihi", "loihi_2chip"])
def loihi(request):
    """Both Loihi presets: the per-chip figures are the same."""
    return load_hardware(preset_path(request.param))


# (section, key, published value in ns) -- Davies et al. 2018 Table 2, except where marked
LOIHI_LATENCIES_NS = [
    ("core", "latency_synop_cycles", 3.5),
    ("core", "latency_neuron_update_active_cycles", 8.4),
    ("core", "latency_neuron_update_idle_cycles", 5.3),
    ("core", "latency_message_in_cycles", 16.0),  # SANA-FE: axon in
    ("core", "latency_spike_out_cycles", 30.0),  # SANA-FE: soma spike out (per fired neuron), booked per message
    ("router", "latency_local_cycles", 2.1),
    ("router", "latency_hop_ew_cycles", 4.1),
    ("router", "latency_hop_ns_cycles", 6.5),
]
LOIHI_ENERGIES_PJ = [
    ("core", "energy_synop_pj", 23.6),
    ("core", "energy_neuron_update_active_pj", 81.0),
    ("core", "energy_neuron_update_idle_pj", 52.0),
    ("core", "energy_spike_out_pj", 69.3),  # SANA-FE: soma spike out (per fired neuron), booked per message
    ("router", "energy_local_pj", 1.7),
    ("router", "energy_hop_ew_pj", 3.0),
    ("router", "energy_hop_ns_pj", 4.0),
]


def test_loihi_time_base_is_a_tenth_of_a_nanosecond(loihi):
    assert loihi.core.clock_mhz == 10000
    assert loihi.cycle_s == pytest.approx(0.1 * NS, rel=0, abs=1e-21)


@pytest.mark.parametrize("section,key,ns", LOIHI_LATENCIES_NS)
def test_loihi_latency_reproduces_published_ns(loihi, section, key, ns):
    cycles = getattr(getattr(loihi, section), key)
    assert isinstance(cycles, int)
    assert abs(cycles * loihi.cycle_s - ns * NS) < 1e-12


@pytest.mark.parametrize("section,key,pj", LOIHI_ENERGIES_PJ)
def test_loihi_energy_reproduces_published_pj(loihi, section, key, pj):
    assert getattr(getattr(loihi, section), key) == pj


def test_loihi_barrier_reproduces_113_to_465_ns(loihi):
    b = loihi.barrier
    if loihi.n_chips > 1:  # the published points hold; beyond 32 tiles the table is assumed
        assert abs(b.latency(1) * loihi.cycle_s - 113 * NS) < 1e-12
        assert abs(b.latency(32) * loihi.cycle_s - 465 * NS) < 1e-12
        assert b.latency(64) == 6650
        return
    assert abs(b.latency(1) * loihi.cycle_s - 113 * NS) < 1e-12
    assert abs(b.latency(32) * loihi.cycle_s - 465 * NS) < 1e-12
    mid = b.latency(16)
    assert b.latency(1) < mid < b.latency(32)
    assert mid == round(1130 + (4650 - 1130) * 15 / 31)  # linear interpolation
    assert b.latency(64) == b.latency(32) and b.latency(0) == b.latency(1)  # held beyond the ends


def test_loihi_organisation_and_static_power(loihi):
    if loihi.n_chips > 1:
        return test_loihi_2chip_organisation(loihi)
    assert (loihi.mesh.width, loihi.mesh.height, loihi.mesh.cores_per_tile) == (8, 4, 4)
    assert loihi.n_tiles == 32 and loihi.n_cores == 128
    assert loihi.core.max_neurons == 1024 and loihi.core.max_fan_in == 4096
    assert loihi.core.issue_width == 1
    assert loihi.router.delivery == "unicast"
    assert loihi.chip.static_power_mw == 100
    assert loihi.core.static_power_mw == 0 and loihi.router.static_power_mw == 0
    assert loihi.static_power_w() == pytest.approx(0.1)
    # a link carries one message in (about) an east-west hop time: 40 cycles = 4.0 ns
    assert 1 / loihi.router.link_bandwidth_msgs_per_cycle == pytest.approx(40)


def test_loihi_2chip_organisation(loihi=None):
    hw = loihi or load_hardware(preset_path("loihi_2chip"))
    assert (hw.chips.width, hw.chips.height, hw.n_chips) == (2, 1, 2)
    assert (hw.grid_width, hw.grid_height, hw.n_tiles, hw.n_cores) == (16, 4, 64, 256)
    assert hw.tile_xy(4 * 8) == (8, 0) and hw.chip_of_tile(8) == 1 and hw.chip_of_tile(16) == 0
    assert hw.static_power_w() == pytest.approx(0.2)  # 0.1 W per chip (Frady et al. 2020)
    one = load_hardware(preset_path("loihi"))
    assert hw.core == one.core and hw.router == one.router  # per-chip figures are loihi.yaml's
    assert hw.chips.link_latency_cycles > one.router.latency_hop_ew_cycles
    assert hw.chips.service_cycles == 400


def test_loihi_peak_figures():
    hw = load_hardware(preset_path("loihi"))
    p = hw.peak_figures()
    assert p["synops_per_s_per_core"] == pytest.approx(1 / 3.5e-9)  # 3.5 ns per synop
    assert p["synops_per_s"] == pytest.approx(128 / 3.5e-9)
    assert p["energy_per_synop_pj"] == 23.6
    assert p["neurons"] == 128 * 1024
    # 8x4 tiles: cutting the 8 columns in half crosses 4 links each way, one message per 40 cycles
    assert p["bisection_links"] == 4
    assert p["bisection_msgs_per_cycle"] == pytest.approx(4 / 40)
    assert p["bisection_msgs_per_s"] == pytest.approx(4 / 4e-9)
    two = load_hardware(preset_path("loihi_2chip")).peak_figures()
    assert two["bisection_links"] == 4 and two["bisection_msgs_per_cycle"] == pytest.approx(4 / 400)


def test_truenorth_published_figures():
    hw = load_hardware(preset_path("truenorth"))
    assert (hw.mesh.width, hw.mesh.height, hw.mesh.cores_per_tile) == (64, 64, 1)  # Merolla 2014
    assert hw.n_cores == 4096
    assert hw.core.max_neurons == 256 and hw.core.max_fan_in == 256  # 256 x 256 crossbar
    assert hw.core.max_synapses == 256 * 256
    assert hw.core.energy_synop_pj == 26.0  # per synaptic event
    assert hw.router.energy_hop_ew_pj == hw.router.energy_hop_ns_pj == 2.3  # per hop
    assert hw.router.delivery == "unicast"
    # the 26 pJ includes static power: nothing is counted twice
    assert hw.static_power_w() == 0
    assert hw.core.energy_neuron_update_active_pj == hw.core.energy_message_in_pj == 0
    assert hw.barrier.energy(4096) == pytest.approx(4.6 * 4096)


def test_seneca_published_figures():
    hw = load_hardware(preset_path("seneca"))
    assert hw.core.energy_synop_pj == 2.8  # Tang et al. 2023
    assert hw.core.issue_width == 8  # 8 neuron processing elements per core
    assert hw.router.delivery == "multicast"  # light multicast via a routing table


def test_small_is_round_and_hand_checkable():
    hw = load_hardware(preset_path("small"))
    assert (hw.mesh.width, hw.mesh.height, hw.mesh.cores_per_tile) == (2, 2, 2)
    assert hw.n_cores == 8 and hw.core.max_neurons == 64
    assert hw.cycle_s == pytest.approx(10 * NS)
    assert hw.core.latency_synop_cycles == 1 and hw.core.energy_synop_pj == 1.0
    # 1 mW static for one 10 ns cycle = 10 pJ
    assert hw.static_power_w() * hw.cycle_s * 1e12 == pytest.approx(10.0)
    assert hw.barrier.latency(2) == 20


# ---- overrides ----------------------------------------------------------------------------------
def test_override_sets_a_value_and_leaves_the_file_alone():
    p = preset_path("loihi")
    hw = load_hardware(p, {"core.max_neurons": 64, "router.delivery": "multicast"})
    assert hw.core.max_neurons == 64 and hw.router.delivery == "multicast"
    again = load_hardware(p)
    assert again.core.max_neurons == 1024 and again.router.delivery == "unicast"


def test_override_accepts_numpy_scalars():
    import numpy as np

    hw = load_hardware(preset_path("small"), {"core.max_neurons": np.int64(32), "core.clock_mhz": np.float32(50)})
    assert hw.core.max_neurons == 32 and type(hw.core.max_neurons) is int and hw.core.clock_mhz == 50


def test_override_of_a_key_left_to_its_default(tmp_path):
    text = preset_path("small").read_text()
    text = re.sub(r"^  issue_width:.*\n", "", text, flags=re.M)
    text = re.sub(r"^chip:\n(  .*\n)*", "", text, flags=re.M)
    f = tmp_path / "defaults.yaml"
    f.write_text(text)
    assert load_hardware(f).core.issue_width == 1
    hw = load_hardware(f, {"core.issue_width": 4, "chip.static_power_mw": 5.0})
    assert hw.core.issue_width == 4 and hw.chip.static_power_mw == 5.0


@pytest.mark.parametrize(
    "key", ["core.max_nuerons", "nosuch.key", "core.max_neurons.x", "cores", "source", "mesh.width.height"]
)
def test_bad_override_key_raises_config_error(key):
    with pytest.raises(ConfigError) as info:
        load_hardware(preset_path("small"), {key: 1})
    assert "\n" not in str(info.value)
    assert key in str(info.value)


def test_bad_override_value_raises_config_error():
    with pytest.raises(ConfigError, match=r"core\.max_neurons"):
        load_hardware(preset_path("small"), {"core.max_neurons": 0})


# ---- malformed files ------------------------------------------------------------------------------
VALID = """\
format: neurosim-hardware/1
name: test
mesh:
  width: 2
  height: 2
  cores_per_tile: 2
core:
  max_neurons: 64
  max_fan_in: 256
  clock_mhz: 100
  latency_message_in_cycles: 1
  latency_synop_cycles: 1
  latency_neuron_update_active_cycles: 2
  latency_neuron_update_idle_cycles: 1
  latency_spike_out_cycles: 1
  energy_message_in_pj: 1.0
  energy_synop_pj: 1.0
  energy_neuron_update_active_pj: 2.0
  energy_neuron_update_idle_pj: 1
  energy_spike_out_pj: 1.0
router:
  latency_hop_ew_cycles: 1
  latency_hop_ns_cycles: 2
  energy_hop_ew_pj: 1.0
  energy_hop_ns_pj: 2.0
  delivery: unicast
barrier:
  latency_cycles: [[1, 10], [4, 40]]
  energy_pj: 10.0
"""


def _line(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` that contains ``needle``."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def _sub(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def test_valid_base_document_loads(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(VALID)
    hw = load_hardware(f)
    assert hw.n_cores == 8 and hw.router.buffer_depth_msgs == 16  # defaults apply


# (id, file text, expected line (int, or a needle whose line is expected, or None), key path or None,
#  a regex the reason must match)
MALFORMED = [
    ("yaml_syntax", _sub("  height: 2\n", "  height: 2: 3\n"), "height: 2: 3", None, r"malformed YAML"),
    ("yaml_unclosed_flow", _sub("[[1, 10], [4, 40]]", "[[1, 10], [4, 40]"), None, None, r"malformed YAML"),
    ("yaml_tab", _sub("  height: 2\n", "\theight: 2\n"), "\theight", None, r"malformed YAML"),
    ("empty", "", 1, None, r"empty"),
    ("only_comments", "# nothing here\n\n", 1, None, r"empty"),
    ("top_level_list", "- format: neurosim-hardware/1\n- name: x\n", 1, None, r"mapping at the top.*list"),
    ("top_level_scalar", "just a string\n", 1, None, r"mapping at the top.*str"),
    (
        "unknown_key_typo",
        _sub("  max_neurons: 64", "  max_nuerons: 64"),
        "max_nuerons",
        "core.max_nuerons",
        r"unknown key",
    ),
    ("unknown_top_section", VALID + "chipz:\n  static_power_mw: 1\n", "chipz:", "chipz", r"unknown key"),
    (
        "chip_grid_without_link_figures",
        VALID + "chips:\n  width: 2\n",
        "chips:",
        "chips",
        r"chip-to-chip link.*link_latency_cycles",
    ),
    (
        "contention_not_a_bool",
        _sub("  delivery: unicast", "  delivery: unicast\n  contention: 1"),
        "contention:",
        "router.contention",
        r"valid boolean",
    ),
    (
        "power_gating_string",
        VALID + "chip:\n  power_gating: 'yes'\n",
        "power_gating:",
        "chip.power_gating",
        r"valid boolean",
    ),
    (
        "chip_link_zero_bandwidth",
        VALID + "chips:\n  link_bandwidth_msgs_per_cycle: 0\n",
        "link_bandwidth",
        "chips.link_bandwidth_msgs_per_cycle",
        r"greater than 0",
    ),
    ("missing_required_key", _sub("  clock_mhz: 100\n", ""), "core:", "core.clock_mhz", r"required key is missing"),
    (
        "missing_section",
        _sub("barrier:\n  latency_cycles: [[1, 10], [4, 40]]\n  energy_pj: 10.0\n", ""),
        1,
        "barrier",
        r"required key is missing",
    ),
    (
        "string_for_int",
        _sub("  max_neurons: 64", "  max_neurons: sixty-four"),
        "sixty-four",
        "core.max_neurons",
        r"valid integer.*sixty-four",
    ),
    (
        "quoted_number_for_int",
        _sub("  max_neurons: 64", '  max_neurons: "64"'),
        '"64"',
        "core.max_neurons",
        r"valid integer",
    ),
    (
        "bool_for_int",
        _sub("  cores_per_tile: 2", "  cores_per_tile: yes"),
        "yes",
        "mesh.cores_per_tile",
        r"valid integer",
    ),
    (
        "float_for_int",
        _sub("  latency_synop_cycles: 1", "  latency_synop_cycles: 1.5"),
        "1.5",
        "core.latency_synop_cycles",
        r"integer",
    ),
    (
        "string_for_float",
        _sub("  energy_synop_pj: 1.0", "  energy_synop_pj: cheap"),
        "cheap",
        "core.energy_synop_pj",
        r"valid number",
    ),
    (
        "negative_energy",
        _sub("  energy_synop_pj: 1.0", "  energy_synop_pj: -1.0"),
        "-1.0",
        "core.energy_synop_pj",
        r"greater than or equal to 0",
    ),
    (
        "negative_latency",
        _sub("  latency_hop_ns_cycles: 2", "  latency_hop_ns_cycles: -2"),
        "-2",
        "router.latency_hop_ns_cycles",
        r"greater than or equal to 0",
    ),
    (
        "infinite_energy",
        _sub("  energy_hop_ew_pj: 1.0", "  energy_hop_ew_pj: .inf"),
        ".inf",
        "router.energy_hop_ew_pj",
        r"finite",
    ),
    ("zero_mesh_width", _sub("  width: 2", "  width: 0"), "width: 0", "mesh.width", r"greater than 0"),
    ("zero_clock", _sub("  clock_mhz: 100", "  clock_mhz: 0"), "clock_mhz: 0", "core.clock_mhz", r"greater than 0"),
    ("duplicate_key", _sub("  height: 2\n", "  height: 2\n  width: 3\n"), "width: 3", "mesh.width", r"duplicate key"),
    (
        "barrier_not_increasing",
        _sub("[[1, 10], [4, 40]]", "[[4, 40], [1, 10]]"),
        "latency_cycles",
        "barrier.latency_cycles",
        r"strictly increasing",
    ),
    (
        "barrier_repeated_tiles",
        _sub("[[1, 10], [4, 40]]", "[[1, 10], [1, 40]]"),
        "latency_cycles",
        "barrier.latency_cycles",
        r"strictly increasing",
    ),
    ("barrier_empty", _sub("[[1, 10], [4, 40]]", "[]"), "latency_cycles", "barrier.latency_cycles", r"at least 1"),
    (
        "barrier_negative_cycles",
        _sub("[[1, 10], [4, 40]]", "[[1, 10], [4, -40]]"),
        "latency_cycles",
        "barrier.latency_cycles.1.1",
        r"greater than or equal to 0",
    ),
    ("wrong_format", _sub("neurosim-hardware/1", "neurosim-hardware/2"), "format:", "format", r"neurosim-hardware/1"),
    (
        "delivery_broadcast",
        _sub("delivery: unicast", "delivery: broadcast"),
        "delivery:",
        "router.delivery",
        r"'unicast' or 'multicast'.*broadcast",
    ),
    (
        "section_is_scalar",
        _sub("mesh:\n  width: 2\n  height: 2\n  cores_per_tile: 2\n", "mesh: 4\n"),
        "mesh: 4",
        "mesh",
        r"valid dictionary",
    ),
    ("unknown_tag", _sub("  width: 2", "  width: !big 2"), "!big", "mesh.width", r"malformed YAML value"),
    ("recursive_alias", VALID + "extra: &a [*a]\n", "extra:", "extra.0", r"recursive"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_file_raises_one_line_config_error(tmp_path, case):
    name, text, line, key, reason = case
    f = tmp_path / f"bad_{name}.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_hardware(f)
    exc = info.value
    msg = str(exc)
    assert "\n" not in msg, msg
    assert f.name in msg and exc.file == str(f)
    if isinstance(line, str):
        line = _line(text, line)
    if line is not None:
        assert exc.line == line, msg
        assert f"{f.name}:{line}:" in msg
    else:
        assert exc.line is None or exc.line >= 1
    if key is not None:
        assert exc.key == key, msg
        assert f": {key}: " in msg
    assert re.search(reason, exc.reason, re.I), msg


def test_unclosed_flow_sequence_reports_a_line(tmp_path):
    f = tmp_path / "unclosed.yaml"
    f.write_text(MALFORMED[1][1])
    with pytest.raises(ConfigError) as info:
        load_hardware(f)
    assert info.value.line is not None and info.value.line >= _line(MALFORMED[1][1], "latency_cycles")


def test_missing_file(tmp_path):
    f = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_hardware(f)
    assert str(info.value) == f"{f}: no such file"
    assert info.value.line is None and info.value.file == str(f)


def test_directory_instead_of_file(tmp_path):
    d = tmp_path / "adir.yaml"
    d.mkdir()
    with pytest.raises(ConfigError) as info:
        load_hardware(d)
    assert str(info.value) == f"{d}: not a file"
    assert info.value.line is None


def test_undecodable_file(tmp_path):
    f = tmp_path / "latin1.yaml"
    f.write_bytes(VALID.replace("name: test", "name: t\xe9st").encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_hardware(f)
    assert "\n" not in str(info.value) and f.name in str(info.value)


def test_control_character_reports_its_line(tmp_path):
    f = tmp_path / "ctrl.yaml"
    f.write_text(VALID.replace("name: test", "name: te\x01st"))
    with pytest.raises(ConfigError) as info:
        load_hardware(f)
    assert "\n" not in str(info.value)
    assert info.value.line == _line(VALID, "name: test")


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# ---- schema additions --------------------------------------------------------------------------------
def test_defaults_are_one_chip_contention_on_no_gating(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(VALID)
    hw = load_hardware(f)
    assert hw.n_chips == 1 and (hw.grid_width, hw.grid_height) == (2, 2)
    assert hw.chips.link_latency_cycles is None
    assert hw.router.contention is True and hw.chip.power_gating is False
    assert hw.barrier.per_tile_energy_pj == 0 and hw.barrier.energy(4) == 10.0


def test_service_cycles_round_up_to_whole_cycles():
    from neurosim.describe.hardware import service_cycles

    assert service_cycles(0.025) == 40 and service_cycles(1.0) == 1 and service_cycles(0.3) == 4
    assert service_cycles(4.0) == 1  # at most one message per cycle per link


def test_static_power_with_and_without_gating():
    over = {"core.static_power_mw": 2.0, "router.static_power_mw": 1.0, "chip.static_power_mw": 10.0}
    hw = load_hardware(preset_path("small"), over)  # 8 cores on 4 tiles
    full = 1e-3 * (10 + 8 * 2 + 4 * 1)
    assert hw.static_power_w() == pytest.approx(full)
    assert hw.static_power_w(used_cores=[0]) == pytest.approx(full)  # no gating: arguments ignored
    gated = load_hardware(preset_path("small"), {**over, "chip.power_gating": True})
    assert gated.static_power_w() == pytest.approx(full)
    assert gated.static_power_w(used_cores=[0, 1, 5]) == pytest.approx(1e-3 * (10 + 3 * 2 + 2 * 1))
    # routers that only forward traffic are named in used_tiles
    assert gated.static_power_w(used_cores=[0], used_tiles=[0, 1, 3]) == pytest.approx(1e-3 * (10 + 2 + 3))
    assert gated.static_power_w(used_tiles=[2]) == pytest.approx(1e-3 * (10 + 2 * 2 + 1))
    assert gated.static_power_w(used_cores=[]) == 0.0
    two = load_hardware(preset_path("small"), {**over, "chip.power_gating": True, "chips.width": 2})
    assert two.static_power_w() == pytest.approx(2 * full)
    assert two.static_power_w(used_cores=[0]) == pytest.approx(1e-3 * (10 + 2 + 1))  # chip 1 off
    with pytest.raises(ValueError, match="core ids"):
        gated.static_power_w(used_cores=[8])


def test_energy_breakdown_takes_static_power_and_hop_chip():
    from neurosim.describe.cost import energy_breakdown, energy_per_op_pj

    hw = load_hardware(preset_path("small"), {"chips.width": 2})
    assert energy_per_op_pj(hw)["hop_chip"] == 10.0
    ops = {"hop_chip": 3, "hop_ew": 1}
    e = energy_breakdown(ops, hw, cycles=100, static_w=0.5e-3)
    assert e["hop_chip"] == pytest.approx(30e-12) and e["hop_ew"] == pytest.approx(1e-12)
    assert e["static"] == pytest.approx(0.5e-3 * 100 * 10e-9)
    assert e["total"] == pytest.approx(sum(v for k, v in e.items() if k != "total"))
    assert energy_breakdown(ops, hw, 100)["static"] == pytest.approx(hw.static_power_w() * 100 * 10e-9)


def test_chip_grid_overrides_and_tile_numbering_over_the_global_mesh():
    hw = load_hardware(preset_path("small"), {"chips.width": 2, "chips.height": 3})
    assert (hw.grid_width, hw.grid_height, hw.n_tiles, hw.n_cores) == (4, 6, 24, 48)
    assert [hw.tile_xy(c) for c in (0, 2, 6, 8, 47)] == [(0, 0), (1, 0), (3, 0), (0, 1), (3, 5)]
    assert hw.chip_of_tile(0) == 0 and hw.chip_of_tile(3) == 1 and hw.chip_of_tile(8) == 2
    assert hw.chip_of_tile(23) == 5


# ---- hw describe ----------------------------------------------------------------------------------------
def _hw_parser():
    import argparse

    from neurosim.cli import hw as hw_cli

    p = argparse.ArgumentParser(prog="neurosim")
    hw_cli.register(p.add_subparsers(dest="command"))
    return p


@pytest.mark.parametrize("name", PRESETS)
def test_hw_describe_prints_the_chip(name, capsys):
    p = _hw_parser()
    a = p.parse_args(["hw", "describe", name])
    assert a.func(a) == 0
    out = capsys.readouterr().out
    hw = load_hardware(preset_path(name))
    assert out.startswith(f"hardware {name}:")
    assert f"{hw.n_cores} cores" in out and "synops/s per core" in out and "pJ per synop" in out
    assert "bisection:" in out and "msg/cycle" in out and "msg/s" in out
    assert ("chip-to-chip links" in out) == (hw.n_chips > 1)


def test_hw_describe_of_a_file_with_overrides_and_errors(capsys, tmp_path):
    from neurosim.errors import NeurosimError

    p = _hw_parser()
    a = p.parse_args(["hw", "describe", str(preset_path("small")), "--set", "chips.width=2"])
    a.func(a)
    out = capsys.readouterr().out
    assert "2x1 chips of 2x2 tiles = global mesh 4x2 tiles" in out and "16 cores" in out
    for argv, match in (
        (["hw", "describe", str(tmp_path / "nope.yaml")], "not a preset"),
        (["hw", "describe", "small", "--set", "core.max_neurons=0"], "core.max_neurons"),
        (["hw", "describe", "small", "--set", "nokey"], "KEY=VALUE"),
        (["hw"], "subcommand"),
    ):
        a = p.parse_args(argv)
        with pytest.raises(NeurosimError, match=match) as info:
            a.func(a)
        assert "\n" not in str(info.value)
