"""Hostile YAML for each kind of YAML input (hardware, mapping, sweep spec): alias bombs, deep
nesting, huge files, bad bytes, Python tags, wrong document shapes; then mutations of a mapping
file and of a sweep spec. Each must be refused in one line naming the file (and the key where
there is one), quickly, without a report and with the input files untouched."""

from __future__ import annotations

import time

import pytest
import yaml
from fuzz_harness import CASES, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.errors import ConfigError
from neurosim.io.hardware_file import load_hardware
from neurosim.io.mapping_file import save_mapping
from neurosim.io.nir_read import load_network
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR, MODELS_DIR
from neurosim.yamlfile import load_yaml

MODEL = str(MODELS_DIR / "digits_layered.nir")


def _bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def _alias_chain(levels: int = 40) -> str:
    """Each anchor nests the previous one a level deeper: shallow text, deep through aliases."""
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n" + f"z: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a{levels - 1}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"


TEXT = {
    "billion laughs": _bomb(),
    "recursive alias": "a: &a [*a]\n",
    "deep flow nesting": "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep flow mapping nesting": "a: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n",
    "deep block nesting": "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "1\n",
    "deep through aliases": _alias_chain(),
    "python object": "format: !!python/object/apply:os.system ['echo pwned']\n",
    "python name": "format: !!python/name:os.system\n",
    "python tag on a mapping": "format: !!python/object/new:dict {a: 1}\n",
    "unknown tag": "format: !custom 1\n",
    "top-level list": "- 1\n- 2\n",
    "top-level scalar": "42\n",
    "empty": "",
    "only a comment": "# nothing\n",
    "tabs": "format:\n\t- 1\n",
    "unclosed quote": 'format: "abc\n',
    "unclosed bracket": "format: [1, 2\n",
    "duplicate top-level key": "format: a\nformat: b\n",
    "bad merge": "a: &a {x: 1}\nb:\n  <<: *a\n",
    "two documents": "a: 1\n---\nb: 2\n",
}
BYTES = {
    "latin-1 byte": b"name: caf\xe9\n",
    "0xff": b"\xff\xfeformat: x\n",
    "utf-16": "format: x\n".encode("utf-16"),
    "surrogate bytes": b"name: \xed\xa0\x80\n",
    "nul": b"format: a\x00b\n",
    "bell": b"format: a\x07b\n",
}


def command(kind: str, path, out) -> list[str]:
    if kind == "hardware":
        return ["run", MODEL, "--hw", str(path), "--out", str(out), "-q"]
    if kind == "mapping":
        return ["run", MODEL, "--hw", "small", "--mapping", str(path), "--out", str(out), "-q"]
    return ["explore", str(path), "--out", str(out), "--workers", "0", "-q"]


KINDS = ["hardware", "mapping", "spec"]


@pytest.mark.parametrize("case", sorted(TEXT) + sorted(BYTES))
@pytest.mark.parametrize("kind", KINDS)
def test_hostile_yaml(tmp_path, kind, case):
    path = tmp_path / "inputs" / "file.yaml"
    path.parent.mkdir()
    if case in TEXT:
        path.write_text(TEXT[case])
    else:
        path.write_bytes(BYTES[case])
    out = tmp_path / "report"
    refused(f"{kind} yaml", command(kind, path, out), path.parent, [str(path)], out=out, max_seconds=3, max_mib=64)


@pytest.mark.parametrize("kind", KINDS)
def test_huge_files(tmp_path, kind):
    """A 50 MB file (sparse: nothing to read) and a 50 MB description string are refused from
    their size, before anything is read."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    sparse = inputs / "sparse.yaml"
    with sparse.open("wb") as f:
        f.truncate(50 << 20)
    text = inputs / "description.yaml"
    text.write_text("format: x\ndescription: " + "x" * (50 << 20) + "\n")
    for path in (sparse, text):
        out = tmp_path / "report"
        line = refused(f"{kind} yaml", command(kind, path, out), inputs, [str(path)], out=out, max_mib=16)
        assert "over the limit" in line


@pytest.mark.parametrize("kind", KINDS)
def test_not_a_file(tmp_path, kind):
    for path in (tmp_path / "missing.yaml", tmp_path):
        out = tmp_path / "report"
        refused(f"{kind} yaml", command(kind, path, out), tmp_path, [str(path)], out=out)


# ---- mapping files -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mapping_doc(tmp_path_factory):
    hw = load_hardware(HW_DIR / "small.yaml")
    net = load_network(MODEL)
    path = tmp_path_factory.mktemp("mapping") / "base.yaml"
    save_mapping(map_network(net, hw), net, hw, path)
    return yaml.safe_load(path.read_text())


def _mapping_cases(doc: dict):
    """(name, mutate(doc), names an error must mention) for every kind of bad mapping."""
    last = len(doc["cores"]) - 1
    for value in (-1, 10**30, 10**6, 1.5, float("nan"), float("inf"), "zero", [0], None, True):
        yield f"core={value!r}", lambda d, v=value: d["cores"][0].update(core=v), ["cores.0.core"]
        for field in ("start", "stop"):
            yield (
                f"{field}={value!r}",
                lambda d, v=value, f=field: d["cores"][0]["neurons"][0].update({f: v}),
                ["cores.0.neurons.0"],
            )
    yield "tile wrong", lambda d: d["cores"][0].update(tile=[5, 5]), ["cores.0.tile"]
    yield "tile 3-d", lambda d: d["cores"][0].update(tile=[0, 0, 0]), ["cores.0.tile"]
    yield "unknown population", lambda d: d["cores"][0]["neurons"][0].update(population="nope"), ["population"]
    yield "empty range", lambda d: d["cores"][0]["neurons"][0].update(stop=0), ["cores.0.neurons.0"]
    yield "mapped twice", lambda d: d["cores"].append(dict(d["cores"][0], core=7, tile=None)), ["mapped twice"]
    yield "core removed", lambda d: d["cores"].pop(last), ["not mapped"]
    yield "no cores", lambda d: d.update(cores=[]), ["cores"]
    yield "no neurons", lambda d: d["cores"][0].update(neurons=[]), ["cores.0.neurons"]
    yield "wrong format", lambda d: d.update(format="neurosim-mapping/2"), ["format"]
    yield "format removed", lambda d: d.pop("format"), ["format"]
    yield "unknown key", lambda d: d.update(colour="red"), ["colour"]
    yield "unknown core key", lambda d: d["cores"][0].update(slot=1), ["cores.0.slot"]
    yield "misspelt cores", lambda d: d.update(coers=d.pop("cores")), ["coers"]
    yield "cores a mapping", lambda d: d.update(cores={"a": 1}), ["cores"]


@pytest.mark.parametrize("index", range(len(list(_mapping_cases({"cores": [0]})))))
def test_mapping_mutations(tmp_path, mapping_doc, index):
    name, mutate, names = list(_mapping_cases(mapping_doc))[index]
    doc = yaml.safe_load(yaml.safe_dump(mapping_doc))
    mutate(doc)
    path = tmp_path / "inputs" / "mapping.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp_path / "report"
    line = refused("mapping mutation", command("mapping", path, out), path.parent, names, out=out)
    assert str(path) in line, (name, line)


# ---- sweep specs --------------------------------------------------------------------------------
SPEC = {
    "format": "neurosim-explore/1",
    "name": "fuzz",
    "models": [MODEL],
    "hardware": ["small"],
    "overrides": {"core.max_neurons": [64]},
    "strategies": ["sequential"],
    "modes": ["sync"],
    "samples": 2,
}
GRID_KEYS = [f"core.energy_{op}_pj" for op in ("message_in", "synop", "spike_out")] + [
    "router.energy_hop_ew_pj",
    "router.energy_hop_ns_pj",
    "router.energy_local_pj",
    "barrier.energy_pj",
    "barrier.per_tile_energy_pj",
    "core.static_power_mw",
    "router.static_power_mw",
    "chip.static_power_mw",
    "core.energy_neuron_update_idle_pj",
]
SPEC_CASES = {
    "name .": ({"name": "."}, ["name"]),
    "name ..": ({"name": ".."}, ["name"]),
    "name with /": ({"name": "a/b"}, ["name"]),
    "name empty": ({"name": ""}, ["name"]),
    "name ../x": ({"name": "../x"}, ["name"]),
    "override unknown key": ({"overrides": {"core.max_neuronz": [1]}}, ["overrides.core.max_neuronz"]),
    "override unknown section": ({"overrides": {"cpu.cores": [1]}}, ["overrides.cpu.cores"]),
    "override section with unknown key": ({"overrides": {"mesh": [{"width": 1, "colour": 2}]}}, ["overrides.mesh"]),
    "override source": ({"overrides": {"source": ["x"]}}, ["overrides.source"]),
    "override nan": ({"overrides": {"core.clock_mhz": [float("nan")]}}, ["overrides.core.clock_mhz"]),
    "override inf": ({"overrides": {"core.energy_synop_pj": [float("inf")]}}, ["overrides.core.energy_synop_pj"]),
    "override negative": ({"overrides": {"core.max_neurons": [-1]}}, ["overrides.core.max_neurons"]),
    "override huge": ({"overrides": {"core.latency_synop_cycles": [10**30]}}, ["overrides.core.latency_synop_cycles"]),
    "override string": ({"overrides": {"core.max_neurons": ["64"]}}, ["overrides.core.max_neurons"]),
    "override not a list": ({"overrides": {"core.max_neurons": 64}}, ["overrides.core.max_neurons"]),
    "override empty list": ({"overrides": {"core.max_neurons": []}}, ["overrides"]),
    "grid of 1e12 points": ({"overrides": {k: list(range(10)) for k in GRID_KEYS}}, ["points"]),
    "grid of 120k points": (
        {"overrides": {"core.max_neurons": list(range(1, 401)), "core.max_fan_in": list(range(1, 301))}},
        ["points"],
    ),
    "unknown strategy": ({"strategies": ["nope"]}, ["strategies.0"]),
    "unknown mode": ({"modes": ["warp"]}, ["modes.0"]),
    "unknown mode option": ({"modes": [{"name": "sync", "options": {"warp": 1}}]}, ["modes.0.options.warp"]),
    "samples 0": ({"samples": 0}, ["samples"]),
    "samples nan": ({"samples": float("nan")}, ["samples"]),
    "seed string": ({"seed": "x"}, ["seed"]),
    "dt negative": ({"dt": -1.0}, ["dt"]),
    "no models": ({"models": []}, ["models"]),
    "format wrong": ({"format": "neurosim-explore/9"}, ["format"]),
    "unknown key": ({"colour": 1}, ["colour"]),
    "duplicate entries": ({"strategies": ["sequential", "sequential"]}, ["strategies"]),
}


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
def test_spec_mutations(tmp_path, monkeypatch, case):
    changes, names = SPEC_CASES[case]
    doc = dict(SPEC, **changes)
    path = tmp_path / "inputs" / "spec.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.chdir(tmp_path)  # nothing may appear under ./reports either
    out = tmp_path / "sweep"
    line = refused("spec mutation", command("spec", path, out), tmp_path, names, out=out, max_mib=64)
    assert str(path) in line, line
    assert not (tmp_path / "reports").exists()


# ---- random bytes (hypothesis) ---------------------------------------------------------------------
YAMLISH = st.one_of(
    st.binary(max_size=200),
    st.text(alphabet=st.sampled_from(list("[]{}&*!:,-?|>'\"#%@`\t\n abc019.")), max_size=200).map(str.encode),
)


def _load_bytes(tmp_path, data: bytes) -> None:
    """Any bytes: a value, or a ConfigError of one short line naming the file, quickly."""
    CASES["yaml random bytes"] += 1
    path = tmp_path / "random.yaml"
    path.write_bytes(data)
    t0 = time.perf_counter()
    try:
        load_yaml(path)
    except ConfigError as exc:
        msg = str(exc)
        assert msg.startswith(str(path)) and "\n" not in msg and len(msg) < 300, msg
    assert time.perf_counter() - t0 < 1.0


@settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=YAMLISH)
def test_random_bytes(tmp_path, data):
    _load_bytes(tmp_path, data)


@pytest.mark.slow
@settings(
    max_examples=5000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=YAMLISH)
def test_random_bytes_many(tmp_path, data):
    _load_bytes(tmp_path, data)
