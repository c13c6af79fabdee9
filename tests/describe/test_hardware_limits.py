"""The documented limits of hardware descriptions: values at a limit load, values past it are
refused naming the key; with every figure at its limit the cost model stays finite and its parts
still sum to the total; YAML limits (aliases, depth, size, tags) and ``--set`` value parsing."""

from __future__ import annotations

import math
import time

import pytest
import yaml

from neurosim.describe import cost
from neurosim.describe import hardware as H
from neurosim.errors import ConfigError
from neurosim.io.hardware_file import load_hardware
from neurosim.paths import HW_DIR
from neurosim.yamlfile import MAX_ALIAS_NODES, MAX_DEPTH, load_yaml, parse_value

AT_LIMIT = {
    "core.latency_synop_cycles": H.MAX_LATENCY_CYCLES,
    "core.energy_synop_pj": H.MAX_ENERGY_PJ,
    "core.static_power_mw": H.MAX_POWER_MW,
    "core.clock_mhz": H.MIN_CLOCK_MHZ,
    "core.issue_width": H.MAX_ISSUE_WIDTH,
    "router.link_bandwidth_msgs_per_cycle": H.MIN_BANDWIDTH,
    "chip.frame_period_cycles": H.MAX_FRAME_PERIOD_CYCLES,
}
PAST_LIMIT = {
    "core.latency_synop_cycles": H.MAX_LATENCY_CYCLES + 1,
    "core.energy_synop_pj": H.MAX_ENERGY_PJ * 1.01,
    "core.static_power_mw": H.MAX_POWER_MW * 1.01,
    "core.clock_mhz": H.MIN_CLOCK_MHZ / 2,
    "core.issue_width": H.MAX_ISSUE_WIDTH + 1,
    "router.link_bandwidth_msgs_per_cycle": H.MIN_BANDWIDTH / 2,
    "chip.frame_period_cycles": H.MAX_FRAME_PERIOD_CYCLES + 1,
}


@pytest.mark.parametrize("key", sorted(AT_LIMIT))
def test_value_at_the_limit_loads_and_past_it_is_refused(key):
    hw = load_hardware("small", {key: AT_LIMIT[key]})
    section, name = key.split(".")
    assert getattr(getattr(hw, section), name) == AT_LIMIT[key]
    with pytest.raises(ConfigError) as info:
        load_hardware("small", {key: PAST_LIMIT[key]})
    msg = str(info.value)
    assert f"override {key!r}" in msg and "limit" in msg and "\n" not in msg


def test_total_cores_and_tiles_limits():
    # 256 x 256 tiles (the tile limit) of 15 cores: 983,040 cores, under the core limit
    hw = load_hardware("small", {"mesh.width": 256, "mesh.height": 256, "mesh.cores_per_tile": 15})
    assert hw.n_tiles == H.MAX_TILES and hw.n_cores == 983_040
    with pytest.raises(ConfigError, match="1048576 cores in all, over the limit of 1000000"):
        load_hardware("small", {"mesh.width": 256, "mesh.height": 256, "mesh.cores_per_tile": 16})
    with pytest.raises(ConfigError, match="65537 tiles in all, over the limit of 65536"):
        load_hardware("small", {"mesh.width": 65_537, "mesh.height": 1, "mesh.cores_per_tile": 1})
    with pytest.raises(ConfigError, match="100000000 tiles in all"):  # 1e4 x 1e4 chips of 1 tile
        load_hardware("small", {"mesh.width": 1, "mesh.height": 1, "chips.width": 10**4, "chips.height": 10**4})


def test_every_figure_at_its_limit_keeps_energy_finite_and_conserved():
    """The worst legal hardware (every energy and power at its limit, the slowest clock, the
    biggest chip) with huge operation counts: every part and the total are finite, and the parts
    sum to the total (the conservation check of the report)."""
    over = {f"core.{k}": H.MAX_ENERGY_PJ for k in H.CoreSpec.model_fields if k.startswith("energy_")}
    over |= {f"router.{k}": H.MAX_ENERGY_PJ for k in H.RouterSpec.model_fields if k.startswith("energy_")}
    over |= {f"{s}.static_power_mw": H.MAX_POWER_MW for s in ("core", "router", "chip")}
    over |= {
        "barrier.energy_pj": H.MAX_ENERGY_PJ,
        "barrier.per_tile_energy_pj": H.MAX_ENERGY_PJ,
        "chips.link_energy_pj": H.MAX_ENERGY_PJ,
        "core.clock_mhz": H.MIN_CLOCK_MHZ,
        "mesh.width": 256,
        "mesh.height": 256,
        "mesh.cores_per_tile": 15,
    }
    hw = load_hardware("small", over)
    ops = {op: 10**18 for op in cost.OPS}
    parts = cost.energy_breakdown(ops, hw, cycles=10**18)
    assert all(math.isfinite(v) for v in parts.values())
    values = [v for k, v in parts.items() if k != "total"]
    assert math.isclose(math.fsum(values), parts["total"], rel_tol=1e-12)
    assert parts["synop"] == pytest.approx(10**18 * 1e9 * 1e-12)


def test_value_error_checks_one_key():
    assert H.value_error(H.HardwareSpec, "core.max_neurons", 64) is None
    assert H.value_error(H.HardwareSpec, "core.latency_synop_cycles", 0) is None
    assert "finite" in H.value_error(H.HardwareSpec, "core.clock_mhz", math.inf)
    assert "valid integer" in H.value_error(H.HardwareSpec, "core.max_neurons", math.nan)
    assert "unknown key" in H.value_error(
        H.HardwareSpec, "mesh", {"width": 1, "height": 1, "cores_per_tile": 1, "x": 1}
    )


@pytest.mark.parametrize("name", [".", "..", "a/b", "a\\b", "tab\tname", "x" * 201])
def test_names_that_are_not_plain(name):
    with pytest.raises(ConfigError, match="name"):
        load_hardware("small", {"name": name})


# ---- YAML ----------------------------------------------------------------------------------------
def _bomb(levels=9):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_refused_fast(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text(_bomb())
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=f"more than {MAX_ALIAS_NODES} extra nodes"):
        load_yaml(f)
    assert time.perf_counter() - t0 < 0.5


def test_aliases_within_budget_still_work(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text("base: &b {x: 1, y: [1, 2]}\ncopy: *b\n")
    assert load_yaml(f).data == {"base": {"x": 1, "y": [1, 2]}, "copy": {"x": 1, "y": [1, 2]}}


def test_depth_limit_counts_nesting_and_aliases(tmp_path):
    ok, deep = tmp_path / "ok.yaml", tmp_path / "deep.yaml"
    ok.write_text("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n")
    deep.write_text("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n")
    load_yaml(ok)
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels"):
        load_yaml(deep)
    via = tmp_path / "via.yaml"
    via.write_text("a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n")
    with pytest.raises(ConfigError, match="aliases included"):
        load_yaml(via)
    huge = tmp_path / "huge.yaml"
    huge.write_text("a: " + "[" * 200_000 + "]" * 200_000 + "\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="nested more than"):
        load_yaml(huge)
    assert time.perf_counter() - t0 < 1.0


def test_size_encoding_and_tags(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(2 << 20)
    with pytest.raises(ConfigError, match="over the limit of 1048576 bytes"):
        load_yaml(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: 1\nname: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(latin)
    assert str(info.value) == f"{latin}:2: not UTF-8 text: byte 0xe9 at offset 14 (invalid continuation byte)"
    for text in (
        "a: !!python/object/apply:os.system [ls]\n",
        "a: !!python/name:os.system\n",
        "a: !!python/tuple [1]\n",
    ):
        tag = tmp_path / "tag.yaml"
        tag.write_text(text)
        with pytest.raises(ConfigError, match=r"a: YAML tag !!python/\S+ is not allowed"):
            load_yaml(tag)


def test_parse_value_like_safe_load_but_bounded():
    for text in ("64", "[1, 2]", "{a: 1}", "", "x", ".5", "null"):
        assert parse_value(text, "--set") == yaml.safe_load(text)
    with pytest.raises(ConfigError) as info:
        parse_value("[1,", "--set 'k=[1,'")
    assert str(info.value).startswith("--set 'k=[1,': malformed YAML")
    with pytest.raises(ConfigError, match="YAML tag !!python/object/apply:os.system is not allowed"):
        parse_value("!!python/object/apply:os.system ['echo pwned']", "--set")
    with pytest.raises(ConfigError, match="alias"):
        parse_value("[" + ", ".join(["&a [1,1,1,1,1,1,1,1,1,1]"] + ["*a"] * 2000) + "]", "--set")


def test_presets_unchanged_by_the_limits():
    for path in sorted(HW_DIR.glob("*.yaml")):
        hw = load_hardware(path)
        assert hw.n_cores <= H.MAX_CORES
