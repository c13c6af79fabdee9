"""``neurosim run`` names its report after what changes the result, records that identity in
``summary.json`` and ``report.md``, and never silently replaces a different run's report."""

import json

import yaml

from neurosim.cli.main import main
from neurosim.paths import HW_DIR

SMALL = str(HW_DIR / "small.yaml")


def run(capsys, model, *argv):
    """(exit code, stdout, stderr) of ``neurosim run MODEL --hw small -q ARGV``."""
    code = main(["run", str(model), "--hw", SMALL, "-q", *[str(a) for a in argv]])
    out, err = capsys.readouterr()
    return code, out, err


def summary(folder):
    return json.loads((folder / "summary.json").read_text())


def test_default_name_is_plain_and_any_result_changing_option_adds_its_hash(capsys, model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(capsys, model)[0] == 0
    plain = tmp_path / "reports" / "m-small-sync"
    ident = summary(plain)["run"]["identity"]
    assert len(ident["hash"]) == 16 and ident["inputs"]["seed"] == 0
    names = {}
    for argv in (["--set", "core.max_neurons=32"], ["--seed", "1"]):
        assert run(capsys, model, *argv)[0] == 0
        made = sorted(p.name for p in (tmp_path / "reports").iterdir())
        new = [n for n in made if n not in names.values() and n != "m-small-sync"]
        assert len(new) == 1, (argv, made)
        names[argv[0]] = new[0]
        s = summary(tmp_path / "reports" / new[0])
        assert new[0] == f"m-small-sync-{s['run']['identity']['hash'][:8]}"
        assert s["run"]["identity"]["hash"] != ident["hash"]
    s = summary(tmp_path / "reports" / names["--set"])
    assert s["run"]["identity"]["inputs"]["hardware_overrides"] == {"core.max_neurons": 32}
    assert s["run"]["options"]["hardware_overrides"] == {"core.max_neurons": 32}
    report = (tmp_path / "reports" / names["--set"] / "report.md").read_text()
    assert s["run"]["identity"]["hash"] in report and "core.max_neurons" in report
    # same options again: the same name and hash (the hash is stable)
    assert run(capsys, model, "--seed", "1")[0] == 0
    assert len(list((tmp_path / "reports").iterdir())) == 3


def test_a_different_run_is_refused_the_same_run_replaces_and_force_overrides(capsys, model, tmp_path):
    out = tmp_path / "rep"
    assert run(capsys, model, "--samples", "2", "--out", out)[0] == 0
    first = summary(out)["run"]["identity"]["hash"]
    assert run(capsys, model, "--samples", "2", "--out", out)[0] == 0  # re-running is fine
    assert summary(out)["run"]["identity"]["hash"] == first
    code, _, err = run(capsys, model, "--samples", "3", "--out", out)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "different run" in err and "--force" in err
    assert summary(out)["run"]["samples"] == 2  # left as it was
    assert run(capsys, model, "--samples", "3", "--out", out, "--force")[0] == 0
    assert summary(out)["run"]["samples"] == 3 and summary(out)["run"]["identity"]["hash"] != first


def test_a_mapping_file_is_reported_as_file_with_its_path_and_hash(capsys, model, tmp_path):
    import hashlib

    m = tmp_path / "m.yaml"
    assert run(capsys, model, "--samples", "2", "--out", tmp_path / "a", "--save-mapping", m)[0] == 0
    doc = yaml.safe_load(m.read_text())
    assert doc["strategy"] == "sequential"
    m.write_text(m.read_text() + "\n# edited by hand\n")
    assert run(capsys, model, "--samples", "2", "--out", tmp_path / "b", "--mapping", m)[0] == 0
    run_block = summary(tmp_path / "b")["run"]
    sha = hashlib.sha256(m.read_bytes()).hexdigest()
    assert run_block["mapping"]["strategy"] == "file" and run_block["mapping"]["sha256"] == sha
    assert run_block["mapping"]["file"] == str(m)
    assert run_block["identity"]["inputs"]["mapping"] == {"kind": "file", "sha256": sha}
    assert summary(tmp_path / "b")["mapping"]["strategy"] == "file"


def test_more_samples_than_the_split_holds_is_an_error(capsys, model, tmp_path):
    code, _, err = run(capsys, model, "--samples", "100000", "--out", tmp_path / "x")
    assert code == 2
    assert "--samples 100000" in err and "has only 360 test samples" in err
    assert not (tmp_path / "x").exists()
