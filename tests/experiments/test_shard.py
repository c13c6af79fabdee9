"""A run's samples split across processes (or Dask workers) give the single-process result:
the same summary.json and samples.csv, byte for byte, in sync and async modes and with NoC
contention over several tiles; and the merge refuses shards that are not one run."""

import csv
import dataclasses
import io
import json

import numpy as np
import pytest

from neurosim.analysis.summary import CSV_COLUMNS, samples_csv_rows, summarize
from neurosim.cli.main import main
from neurosim.errors import NeurosimError, SimulationError
from neurosim.experiments.runner import prepare
from neurosim.experiments.shard import shard_bounds, simulate_sharded
from neurosim.paths import DEFAULT_MODEL
from neurosim.sim.engine import simulate
from neurosim.sim.merge import merge_results

SAMPLES = 12


@pytest.fixture(scope="module")
def loihi():
    return prepare(DEFAULT_MODEL, "loihi", samples=SAMPLES)


@pytest.fixture(scope="module")
def spread():
    """The shipped model over 13 cores on 4 tiles of Loihi, whose links model contention."""
    s = prepare(DEFAULT_MODEL, "loihi", overrides={"core.max_neurons": 16}, samples=SAMPLES)
    assert s.hardware.router.contention and s.mapping.used_cores.size == 13
    return s


def outputs(res) -> tuple[str, str]:
    """summary.json and samples.csv as the report writer writes them."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    w.writeheader()
    for row in samples_csv_rows(res):
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return json.dumps(summarize(res), indent=2, allow_nan=False), buf.getvalue()


def run(setup, **kw):
    d = setup.data
    return simulate_sharded(setup.hardware, setup.network, setup.mapping, d.inputs, d.labels, dataset=d.name, **kw)


def test_shard_bounds_are_contiguous_and_even():
    assert shard_bounds(12, 3) == [(0, 4), (4, 8), (8, 12)]
    assert shard_bounds(10, 4) == [(0, 2), (2, 5), (5, 7), (7, 10)]
    assert shard_bounds(2, 5) == [(0, 1), (1, 2)]
    assert shard_bounds(0, 3) == []


MODES = {
    "sync": {"mode": "sync"},
    "async-random": {"mode": "async", "policy": "random", "group_size": 4, "seed": 7},
    "async-core": {"mode": "async", "scope": "core", "policy": "random", "seed": 3},
}


@pytest.mark.parametrize(
    "case",
    [
        "sync",
        "async-random",
        "noc-sync",
        pytest.param("async-core", marks=pytest.mark.slow),  # in the default suite through the CLI test
        pytest.param("noc-async-core", marks=pytest.mark.slow),
    ],
)
def test_three_workers_give_the_single_process_report(case, loihi, spread):
    setup = spread if case.startswith("noc") else loihi
    options = MODES[case.removeprefix("noc-")]
    one = run(setup, workers=1, name="r", raster_sample=5, **options)
    three = run(setup, workers=3, name="r", raster_sample=5, **options)
    assert outputs(three) == outputs(one)
    assert [s.index for s in three.samples] == list(range(SAMPLES))
    assert three.raster is not None and three.raster.sample == 5
    np.testing.assert_array_equal(three.raster.cycle, one.raster.cycle)
    for k in one.core:
        np.testing.assert_array_equal(three.core[k], one.core[k])
    if case.startswith("noc"):
        assert one.links is not None and int(one.links["wait_cycles"].sum()) > 0  # contention is exercised
        for k in one.links:
            np.testing.assert_array_equal(three.links[k], one.links[k])
    assert three.hardware is setup.hardware and three.mapping is setup.mapping


def test_a_sample_depends_only_on_the_seed_and_its_index(loihi):
    """The async random scheduler is seeded per sample: samples 6.. simulated alone are those of the whole run."""
    d, o = loihi.data, MODES["async-random"]
    whole = simulate(loihi.hardware, loihi.network, loihi.mapping, d.inputs, d.labels, **o)
    tail = simulate(loihi.hardware, loihi.network, loihi.mapping, d.inputs[6:], d.labels[6:], first_sample=6, **o)
    as_json = lambda recs: [json.dumps(dataclasses.asdict(r), sort_keys=True, default=np.ndarray.tolist) for r in recs]  # noqa: E731
    assert as_json(tail.samples) == as_json(whole.samples[6:])
    assert len({r.ops["hop_ew"] + r.cycles for r in whole.samples}) > 1  # the samples differ


def test_merge_refuses_a_gap_and_two_rasters(loihi):
    d = loihi.data

    def part(a, b, **kw):
        return simulate(
            loihi.hardware, loihi.network, loihi.mapping, d.inputs[a:b], d.labels[a:b], first_sample=a, **kw
        )

    a, c = part(0, 2), part(3, 5, raster_sample=None)
    with pytest.raises(SimulationError, match="expected indices from 2 on"):
        merge_results([a, c])
    with pytest.raises(SimulationError, match="2 shards recorded a raster"):
        merge_results([a, part(2, 4, raster_sample=2)])
    with pytest.raises(SimulationError, match="disagree on mode"):
        merge_results([a, part(2, 4, raster_sample=None, mode="async")])
    merged = merge_results([part(2, 4, raster_sample=None), a])  # any order
    assert [s.index for s in merged.samples] == [0, 1, 2, 3]


def test_workers_must_be_positive(loihi):
    with pytest.raises(NeurosimError, match="--workers must be >= 1"):
        run(loihi, workers=0)


def test_cli_run_workers_gives_byte_identical_files(tmp_path, capsys):
    args = ["run", "--samples", "6", "--set", "core.max_neurons=16", "--mode", "async", "--scheduler-scope", "core"]
    args += ["--scheduler", "random", "-q"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--workers", "3", "--out", str(tmp_path / "three")]) == 0
    for f in ("summary.json", "samples.csv"):
        assert (tmp_path / "three" / f).read_bytes() == (tmp_path / "one" / f).read_bytes(), f
    wall = lambda p: [ln for ln in p.read_text().splitlines() if "wall time" not in ln]  # noqa: E731
    assert wall(tmp_path / "three" / "report.md") == wall(tmp_path / "one" / "report.md")
    assert main([*args, "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_dask_local_gives_the_single_process_result(spread):
    pytest.importorskip("distributed")
    options = MODES["async-core"]
    one = run(spread, workers=1, name="r", **options)
    dask = run(spread, workers=2, dask="local", name="r", **options)
    assert outputs(dask) == outputs(one)
