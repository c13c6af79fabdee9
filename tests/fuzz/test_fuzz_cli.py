"""Command-line arguments under mutation: bad numbers, bad choices, ``--set`` values that are
malformed, hostile or out of range, missing and wrong files. Each must be refused in one line
naming the argument (or the file), without a report and without touching any file."""

from __future__ import annotations

import pytest
from fuzz_harness import CASES, cli, refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.paths import MODELS_DIR

MODEL = str(MODELS_DIR / "digits_layered.nir")
DEEP = "[" * 10_000 + "]" * 10_000

RUN_ARGS = {
    "--seed -1": (["--seed", "-1"], "--seed"),
    "--seed x": (["--seed", "x"], "--seed"),
    "--seed 1.5": (["--seed", "1.5"], "--seed"),
    "--samples 0": (["--samples", "0"], "--samples"),
    "--samples -5": (["--samples", "-5"], "--samples"),
    "--samples x": (["--samples", "x"], "--samples"),
    "--mode warp": (["--mode", "warp"], "--mode"),
    "--scheduler x": (["--mode", "async", "--scheduler", "x"], "--scheduler"),
    "--scheduler-scope x": (["--scheduler-scope", "x"], "--scheduler-scope"),
    "--group-size 0": (["--mode", "async", "--group-size", "0"], "--group-size"),
    "--group-size -3": (["--mode", "async", "--group-size", "-3"], "--group-size"),
    "--max-steps 0": (["--mode", "async", "--max-steps", "0"], "--max-steps"),
    "--stop-on-output -1": (["--mode", "async", "--stop-on-output", "-1"], "--stop-on-output"),
    "--dt nan": (["--dt", "nan"], "dt"),
    "--dt -1": (["--dt", "-1"], "dt"),
    "--dt inf": (["--dt", "inf"], "dt"),
    "--dt x": (["--dt", "x"], "--dt"),
    "--strategy bogus": (["--strategy", "bogus"], "bogus"),
    "--placement bogus": (["--placement", "bogus"], "bogus"),
    "--dataset bogus": (["--dataset", "bogus"], "bogus"),
    "unknown option": (["--frobnicate"], "--frobnicate"),
    "--set without =": (["--set", "core.max_neurons"], "--set"),
    "--set empty key": (["--set", "=5"], "--set"),
    "--set unclosed list": (["--set", "core.max_neurons=[1,"], "--set"),
    "--set python apply": (["--set", "core.max_neurons=!!python/object/apply:os.system ['echo pwned']"], "--set"),
    "--set python name": (["--set", "core.max_neurons=!!python/name:os.system"], "--set"),
    "--set python on a mapping": (["--set", "core=!!python/object/new:dict {max_neurons: 1}"], "--set"),
    "--set unknown key": (["--set", "core.max_neuronz=64"], "core.max_neuronz"),
    "--set unknown section": (["--set", "cpu.cores=64"], "cpu.cores"),
    "--set nan": (["--set", "core.max_neurons=.nan"], "core.max_neurons"),
    "--set inf clock": (["--set", "core.clock_mhz=1e400"], "core.clock_mhz"),
    "--set negative": (["--set", "core.max_neurons=-64"], "core.max_neurons"),
    "--set string": (["--set", "core.max_neurons='64'"], "core.max_neurons"),
    "--set huge mesh": (["--set", "mesh.width=1000000", "--set", "mesh.height=1000000"], "tiles in all"),
    "--set huge latency": (["--set", "core.latency_synop_cycles=1e30"], "core.latency_synop_cycles"),
    "--set tiny bandwidth": (["--set", "router.link_bandwidth_msgs_per_cycle=1e-300"], "link_bandwidth"),
    "--set recursive alias": (["--set", "core.max_neurons=&a [*a]"], "--set"),
    "--set alias bomb": (
        ["--set", "core.max_neurons=[" + ", ".join(["&a [x,x,x,x,x,x,x,x,x,x]"] + ["*a"] * 2000) + "]"],
        "--set",
    ),
    "--set deep nesting": (["--set", f"core.max_neurons={DEEP}"], "--set"),
    "--set section partial": (["--set", "core={max_neurons: 1}"], "core"),
    "--set tab": (["--set", "core.max_neurons=\t1: 2"], "--set"),
    "--hw missing": (["--hw", "no_such_chip"], "no_such_chip"),
    "--hw empty": (["--hw", ""], "--hw"),
    "--mapping and --strategy": (["--mapping", "m.yaml", "--strategy", "balanced"], "--mapping"),
    "--mapping missing": (["--mapping", "missing.yaml"], "missing.yaml"),
}


@pytest.mark.parametrize("case", sorted(RUN_ARGS))
def test_run_arguments(tmp_path, monkeypatch, case):
    args, name = RUN_ARGS[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("the user's own file")
    out = tmp_path / "report"
    argv = ["run", MODEL, "--hw", "small", "--samples", "2", "-q", *args, "--out", str(out)]
    refused("cli argument", argv, tmp_path, [name], out=out, max_mib=64)
    assert not (tmp_path / "reports").exists()


BAD_FILES = {
    "run model missing": (["run", "missing.nir", "--hw", "small"], "missing.nir"),
    "run model is a folder": (["run", ".", "--hw", "small"], "."),
    "validate missing": (["validate", "missing.yaml"], "missing.yaml"),
    "validate folder": (["validate", "."], "."),
    "info missing": (["info", "missing.yaml"], "missing.yaml"),
    "hw describe missing": (["hw", "describe", "missing.yaml"], "missing.yaml"),
    "hw describe bad --set": (["hw", "describe", "small", "--set", "core.max_neurons=[1,"], "--set"),
    "explore missing": (["explore", "missing.yaml"], "missing.yaml"),
    "unknown command": (["frobnicate"], "frobnicate"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_other_commands(tmp_path, monkeypatch, case):
    argv, name = BAD_FILES[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("the user's own file")
    refused("cli argument", argv, tmp_path, [name])
    assert not (tmp_path / "reports").exists()


KEYS = [
    "core.max_neurons",
    "core.clock_mhz",
    "router.link_bandwidth_msgs_per_cycle",
    "mesh.width",
    "chip.frame_period_cycles",
]
YAML_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(list("[]{}&*!:,-'\"|>#% \t\n0123456789.eEinfa")), max_size=24),
    st.text(max_size=12),
)


def _describe(key: str, text: str) -> None:
    """``hw describe small --set KEY=TEXT``: it prints the chip (exit 0) or is refused in one line."""
    CASES["cli random --set"] += 1
    rc, _, err, seconds = cli(["hw", "describe", "small", "--set", f"{key}={text}"])
    assert seconds < 5
    if rc == 0:
        return
    assert rc == 2, (key, text, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err and len(err) < 400, (key, text, err)


@settings(max_examples=80, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), text=YAML_TEXT)
def test_random_set_values(key, text):
    _describe(key, text)


@pytest.mark.slow
@settings(max_examples=3000, derandomize=True, deadline=None)
@given(key=st.sampled_from(KEYS), text=YAML_TEXT)
def test_random_set_values_many(key, text):
    _describe(key, text)
