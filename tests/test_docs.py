"""The API reference builds from the docstrings (docs/build_api.py, pdoc) with no warning: every
public module imports, every public name resolves, and the key symbols are documented."""

import importlib.util
import re

import pytest

from neurosim.paths import ROOT

pytest.importorskip("pdoc", reason="the docs extra (pip install 'neurosim-hw[docs]')")


def load_builder():
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_api_reference_builds_with_no_warning_and_documents_the_key_symbols(tmp_path):
    builder = load_builder()
    assert builder.build(tmp_path) == []
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    for module in builder.MODULES:
        assert module.replace(".", "/") + ".html" in pages
    top = (tmp_path / "neurosim.html").read_text(encoding="utf-8")
    for name in ("simulate", "load_network", "map_network", "summarize", "RunResult", "hardware_schema"):
        assert re.search(rf'id="{name}"', top), name  # documented on the top-level page
    counters = (tmp_path / "neurosim" / "sim" / "counters.html").read_text(encoding="utf-8")
    for member in ("RunResult.to_pandas", "RunResult.sample_rows", "SAMPLE_COLUMNS"):
        assert f'id="{member}"' in counters, member
    assert "neurosim/cli.html" not in pages and "neurosim/train.html" not in pages  # not public API


def test_a_module_that_does_not_import_is_reported(tmp_path, monkeypatch):
    builder = load_builder()
    monkeypatch.setattr(builder, "MODULES", ("neurosim.errors", "neurosim.no_such_module"))
    problems = builder.build(tmp_path)
    assert len(problems) == 1 and "neurosim.no_such_module" in problems[0]
