"""Hardware files under mutation: every numeric leaf of every shipped preset set to a negative,
zero, NaN, infinite, huge, string or list value; every key removed, misspelt and duplicated;
absurd sizes; random values (hypothesis). Each mutated file goes through ``neurosim run --hw``
and must be refused in one line naming the file and the key, or (zero where zero is meaningful,
a key removed that has a default) load with every value inside the documented limits."""

from __future__ import annotations

import math
import re

import pytest
import yaml
from fuzz_harness import CASES, ran, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.describe import hardware as H
from neurosim.errors import ConfigError
from neurosim.io.hardware_file import load_hardware
from neurosim.paths import HW_DIR

PRESETS = sorted(p.stem for p in HW_DIR.glob("*.yaml"))
MODEL = "models/digits_layered.nir"

MUTATIONS = {
    "negative": lambda v: -abs(v) - 1,
    "zero": lambda v: type(v)(0),
    "nan": lambda v: math.nan,
    "inf": lambda v: math.inf,
    "huge": lambda v: 10**30 if isinstance(v, int) else 1e300,
    "string": lambda v: str(v),
    "list": lambda v: [v, v],
}

# keys where zero is a legal value (a free operation, no static power, no fixed tick, no membrane grid)
ZERO_OK = re.compile(
    r"(latency\w*_cycles|energy\w*_pj|static_power_mw|frame_period_cycles|membrane_grid|latency_cycles\.\d+\.1)$"
)


def preset_data(name: str) -> dict:
    return yaml.safe_load((HW_DIR / f"{name}.yaml").read_text())


def leaves(data, path=()):
    """(dotted path, value) of every number (not a boolean) in a parsed preset."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from leaves(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from leaves(v, path + (i,))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        yield ".".join(map(str, path)), data


def set_leaf(data, dotted: str, value):
    *head, last = [int(k) if k.isdigit() else k for k in dotted.split(".")]
    cur = data
    for k in head:
        cur = cur[k]
    cur[last] = value


def named_key(dotted: str) -> str:
    """The part of a key path an error must name (a row of the barrier table: the table)."""
    return re.sub(r"(\.\d+)+$", "", dotted)


def assert_within_limits(hw: H.HardwareSpec) -> None:
    """Every number of a loaded description is finite and inside the documented limits."""
    for dotted, v in leaves(hw.model_dump()):
        assert math.isfinite(v), dotted
        assert v >= 0, dotted
        assert v <= max(H.MAX_SYNAPSES_PER_CORE, H.MAX_FRAME_PERIOD_CYCLES), dotted
    assert hw.n_cores <= H.MAX_CORES and hw.n_tiles <= H.MAX_TILES


def write(tmp_path, data: dict):
    path = tmp_path / "inputs" / "hw.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))
    return path


def check_refused(tmp_path, data: dict, names: list[str], kind: str) -> str:
    """``run --hw`` refuses ``data`` in one line naming the file and one of ``names``."""
    path = write(tmp_path, data)
    out = tmp_path / "report"
    line = refused(kind, ["run", MODEL, "--hw", str(path), "--out", str(out), "-q"], path.parent, names, out=out)
    assert str(path) in line, line
    return line


def check_loads(tmp_path, data: dict, kind: str) -> None:
    """``data`` loads, every value inside the limits."""
    CASES[kind] += 1
    assert_within_limits(load_hardware(write(tmp_path, data)))


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("preset", PRESETS)
def test_every_numeric_leaf(tmp_path, preset, mutation):
    """Zero is legal exactly where it means something (a free operation, no static power, no
    fixed tick); every other mutation of every number is refused naming its key."""
    for dotted, value in leaves(preset_data(preset)):
        data = preset_data(preset)
        set_leaf(data, dotted, MUTATIONS[mutation](value))
        if mutation == "zero" and ZERO_OK.search(dotted):
            check_loads(tmp_path, data, "hardware leaf (legal)")
        else:
            check_refused(tmp_path, data, [named_key(dotted)], "hardware leaf")


def keys_of(data, path=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield path + (k,)
            yield from keys_of(v, path + (k,))


@pytest.mark.parametrize("preset", PRESETS)
def test_keys_removed_and_misspelt(tmp_path, preset):
    """A key left out loads when it has a default and is refused naming it otherwise; a misspelt
    key is always an unknown key."""
    for path in keys_of(preset_data(preset)):
        data = preset_data(preset)
        parent = data
        for k in path[:-1]:
            parent = parent[k]
        value = parent.pop(path[-1])
        dotted = ".".join(path)
        try:
            check_loads(tmp_path, data, "hardware key removed")
            assert _has_default(dotted, data), dotted
        except ConfigError:
            check_refused(tmp_path, data, [dotted, path[-1]], "hardware key removed")
        parent[path[-1] + "x"] = value  # a misspelling: always an unknown key
        line = check_refused(tmp_path, data, [dotted + "x"], "hardware key misspelt")
        assert "unknown key" in line


def _has_default(dotted: str, data: dict) -> bool:
    model: type = H.HardwareSpec
    keys = dotted.split(".")
    for k in keys[:-1]:
        model = model.model_fields[k].annotation
    return not model.model_fields[keys[-1]].is_required()


@pytest.mark.parametrize("preset", PRESETS)
def test_keys_duplicated(tmp_path, preset):
    lines = (HW_DIR / f"{preset}.yaml").read_text().splitlines()
    path = tmp_path / "inputs" / "hw.yaml"
    path.parent.mkdir()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([a-z_]+):", line)
        if not m:
            continue
        path.write_text("\n".join(lines[: i + 1] + [line] + lines[i + 1 :]) + "\n")
        out = tmp_path / "report"
        argv = ["run", MODEL, "--hw", str(path), "--out", str(out)]
        got = refused("hardware key duplicated", argv, path.parent, [m[2]])
        assert f"{path}:{i + 2}:" in got and "duplicate key" in got


SIZES = {
    "mesh 1e6 x 1e6": {"mesh": {"width": 10**6, "height": 10**6}},
    "mesh 1e5 x 1": {"mesh": {"width": 10**5, "height": 1}},
    "1e9 cores per tile": {"mesh": {"cores_per_tile": 10**9}},
    "chips 1e4 x 1e4": {"chips": {"width": 10**4, "height": 10**4}},
    "2 x 2 chips of 1e3 x 1e3": {"mesh": {"width": 1000, "height": 1000}, "chips": {"width": 2, "height": 2}},
    "cores 2e6": {"mesh": {"width": 1000, "height": 1000, "cores_per_tile": 2}},
    "issue width 1e30": {"core": {"issue_width": 10**30}},
    "frame period 1e30": {"chip": {"frame_period_cycles": 10**30}},
    "bandwidth 1e-300": {"router": {"link_bandwidth_msgs_per_cycle": 1e-300}},
    "chip link bandwidth 1e-300": {"chips": {"link_bandwidth_msgs_per_cycle": 1e-300}},
    "energy 1e308": {"core": {"energy_synop_pj": 1e308}},
    "clock 1e-300": {"core": {"clock_mhz": 1e-300}},
    "clock 1e300": {"core": {"clock_mhz": 1e300}},
    "barrier 1e30 cycles": {"barrier": {"latency_cycles": [[1, 10**30]]}},
    "barrier 10001 rows": {"barrier": {"latency_cycles": [[i + 1, 1] for i in range(H.MAX_BARRIER_ROWS + 1)]}},
}


@pytest.mark.parametrize("case", sorted(SIZES))
def test_absurd_sizes_refused_before_allocation(tmp_path, case):
    data = preset_data("small")
    for section, values in SIZES[case].items():
        data[section].update(values)
    path = tmp_path / "inputs" / "hw.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "report"
    names = [f"{s}.{k}" for s, v in SIZES[case].items() for k in v] + ["tiles in all", "cores in all"]
    mib = None if case.startswith("barrier") else 64  # a long table: parsed (bounded by the file size), then refused
    refused("hardware size", ["run", MODEL, "--hw", str(path), "--out", str(out)], path.parent, names, max_mib=mib)


@pytest.mark.parametrize(
    "sets",
    [
        ["core.latency_spike_out_cycles=0"],
        [f"core.{k}=0" for k in H.CoreSpec.model_fields if k.startswith("latency_")]
        + [f"router.{k}=0" for k in H.RouterSpec.model_fields if k.startswith("latency_")],
    ],
    ids=["spike-out", "all-latencies"],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_zero_latencies_run(tmp_path, sets, mode):
    """Zero latencies are legal hardware: they run (in both modes) and report."""
    out = tmp_path / "report"
    argv = ["run", MODEL, "--hw", "small", "--samples", "2", "--mode", mode, "--out", str(out), "-q"]
    for s in sets:
        argv += ["--set", s]
    ran("hardware legal mutation", argv, out)


VALUES = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)
SMALL_LEAVES = [d for d, _ in leaves(preset_data("small"))]


def _random_leaf(tmp_path, dotted, value):
    data = preset_data("small")
    set_leaf(data, dotted, value)
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    CASES["hardware random value"] += 1
    try:
        hw = load_hardware(path)
    except ConfigError as exc:
        msg = str(exc)
        assert "\n" not in msg and len(msg) < 300 and named_key(dotted) in msg, msg
        return
    assert_within_limits(hw)


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dotted=st.sampled_from(SMALL_LEAVES), value=VALUES)
def test_random_values(tmp_path, dotted, value):
    _random_leaf(tmp_path, dotted, value)


@pytest.mark.slow
@settings(
    max_examples=3000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(dotted=st.sampled_from(SMALL_LEAVES), value=VALUES)
def test_random_values_many(tmp_path, dotted, value):
    _random_leaf(tmp_path, dotted, value)
