"""``neurosim hw schema``: the JSON Schema of a hardware file accepts every shipped preset and
refuses what the loader refuses (a wrong type, a missing or unknown key)."""

import copy
import json

import jsonschema
import pytest
import yaml

from neurosim.cli.main import main
from neurosim.describe.hardware_schema import DIALECT, hardware_schema
from neurosim.io.hardware_file import preset_path
from neurosim.paths import shipped_names

PRESETS = shipped_names("hardware")


def validator():
    schema = hardware_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def preset(name):
    return yaml.safe_load(preset_path(name).read_text())


def test_the_presets_are_all_there():
    assert {"loihi", "loihi_2chip", "seneca", "small", "truenorth"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_the_schema_accepts_every_shipped_preset(name):
    assert [e.message for e in validator().iter_errors(preset(name))] == []


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (("core", "max_neurons"), "64", "is not of type 'integer'"),
        (("core", "clock_mhz"), "fast", "is not of type 'number'"),
        (("router", "contention"), "yes", "is not of type 'boolean'"),
        (("mesh", "width"), 0, "less than or equal to the minimum of 0"),
        (("router", "delivery"), "broadcast", "is not one of ['unicast', 'multicast']"),
        (("format",), "neurosim-hardware/2", "'neurosim-hardware/1' was expected"),
    ],
)
def test_the_schema_rejects_a_wrong_value(path, value, expected):
    doc = copy.deepcopy(preset("small"))
    *parents, key = path
    node = doc
    for p in parents:
        node = node[p]
    node[key] = value
    errors = list(validator().iter_errors(doc))
    assert len(errors) == 1
    assert list(errors[0].absolute_path) == list(path)
    assert expected in errors[0].message


def test_the_schema_rejects_an_unknown_and_a_missing_key():
    doc = copy.deepcopy(preset("small"))
    doc["core"]["max_neuron"] = doc["core"].pop("max_neurons")  # a typo
    messages = sorted(e.message for e in validator().iter_errors(doc))
    assert len(messages) == 2
    assert "'max_neurons' is a required property" in messages
    assert any("'max_neuron' was unexpected" in m for m in messages)


def test_the_schema_has_titles_descriptions_and_no_loader_only_key():
    schema = hardware_schema()
    assert schema["$schema"] == DIALECT
    assert "neurosim-hardware/1" in schema["title"]
    assert "source" not in schema["properties"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"format", "name", "mesh", "core", "router", "barrier"}
    core = schema["$defs"]["CoreSpec"]
    assert core["description"].startswith("One neuromorphic core")
    assert core["properties"]["max_fan_in"]["description"] == "distinct source neurons (axons) a core can receive from"


def test_the_cli_prints_the_schema_and_writes_it_atomically(capsys, tmp_path):
    assert main(["hw", "schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == hardware_schema()
    out = tmp_path / "sub" / "hardware.schema.json"
    assert main(["hw", "schema", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert out.read_text() == printed
    assert [p.name for p in out.parent.iterdir()] == ["hardware.schema.json"]  # no temporary left


def test_an_unwritable_out_is_one_line_and_exit_code_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["hw", "schema", "--out", str(blocker / "schema.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hw schema --out" in err[0]
