"""The wheel works anywhere: built from the sdist (so MANIFEST.in is checked too), it holds every
subpackage, the presets, the models and ``py.typed``; installed away from the checkout, ``neurosim
run`` and ``neurosim hw describe loihi`` work from another directory. In the checkout the shipped
files are the repository's own folders."""

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import neurosim
from neurosim import paths

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "neurosim"
DIST = "neurosim-hw"
#: the shipped folders and the files of each that the wheel carries (as setup.py's SHIPPED)
SHIPPED = {"hw_configs": (".yaml", ".md"), "models": (".nir", ".md")}


def _shipped_in_repo() -> set[str]:
    return {
        f"{folder}/{p.name}"
        for folder, suffixes in SHIPPED.items()
        for p in (ROOT / folder).iterdir()
        if p.is_file() and p.suffix in suffixes and not p.name.startswith(".")
    }


def _modules_in_repo() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in PKG.rglob("*.py") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel as ``python -m build`` makes it: an sdist of the checkout, then a wheel of the sdist."""
    out = tmp_path_factory.mktemp("dist")
    build_sdist = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    name = subprocess.run(
        [sys.executable, "-c", build_sdist, str(out)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    subprocess.run([*pip_wheel, str(out / name)], check=True, capture_output=True)
    return next(out.glob("neurosim_hw-*.whl"))


def test_the_sdist_carries_the_shipped_folders(wheel):
    sdist = next(wheel.parent.glob("neurosim_hw-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert _shipped_in_repo() <= names
    assert {"setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "neurosim/py.typed"} <= names


def test_the_wheel_holds_every_module_the_presets_the_models_and_py_typed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    # every module of the package, every subpackage with it, and nothing a past build left behind
    assert {n for n in names if n.endswith(".py")} == _modules_in_repo()
    folders = {p.parent.relative_to(ROOT) for p in PKG.rglob("*.py") if "__pycache__" not in p.parts}
    assert [str(f) for f in folders if f"{f.as_posix()}/__init__.py" not in names] == []
    assert {"neurosim/sim/noc/__init__.py", "neurosim/experiments/explore/__init__.py"} <= names
    assert {"neurosim/report/figures/__init__.py", "neurosim/cli/__init__.py"} <= names
    shipped = {n.removeprefix("neurosim/_shipped/") for n in names if n.startswith("neurosim/_shipped/")}
    assert shipped == _shipped_in_repo()
    assert {"hw_configs/loihi.yaml", "hw_configs/README.md", "models/digits_layered.nir", "models/README.md"} <= shipped
    assert "neurosim/py.typed" in names


def test_the_wheel_is_named_neurosim_hw_and_installs_the_neurosim_command(wheel):
    z = zipfile.ZipFile(wheel)
    info = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    meta = z.read(info).decode()
    assert f"Name: {DIST}\n" in meta and f"Version: {neurosim.__version__}\n" in meta
    entry_points = z.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "neurosim = neurosim.cli.main:main" in entry_points
    assert z.read(info.replace("METADATA", "top_level.txt")).decode().split() == ["neurosim"]


def _installed_python(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Python with only the installed copy on its path first (the checkout is not on it: the cwd
    is elsewhere, and the editable install's finder comes after the path's entries)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=str(target), PYTHONNOUSERSITE="1", MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_installed_wheel_runs_from_any_directory(wheel, tmp_path):
    cwd = tmp_path / "elsewhere"
    target = cwd / "site"  # below the working directory, as a venv made there is
    cwd.mkdir()
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", str(target)]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    where = (
        "import json, neurosim, neurosim.paths as p; from importlib import metadata; "
        "print(json.dumps([neurosim.__file__, str(p.HW_DIR), str(p.DEFAULT_MODEL), metadata.version('neurosim-hw')]))"
    )
    found = _installed_python(target, cwd, "-c", where)
    assert found.returncode == 0, found.stderr
    init, hw_dir, model, version = json.loads(found.stdout)
    assert Path(init).is_relative_to(target) and version == neurosim.__version__
    assert Path(hw_dir) == target / "neurosim" / "_shipped" / "hw_configs"
    assert Path(model) == target / "neurosim" / "_shipped" / "models" / "digits_layered.nir"

    described = _installed_python(target, cwd, "-m", "neurosim.cli.main", "hw", "describe", "loihi")
    assert described.returncode == 0, described.stderr
    assert described.stdout.startswith("hardware loihi: Intel Loihi")

    ran = _installed_python(target, cwd, "-m", "neurosim.cli.main", "run", "--samples", "3", "--out", "rep", "-q")
    assert ran.returncode == 0, ran.stderr
    assert (cwd / "rep" / "report.md").is_file()
    run = json.loads((cwd / "rep" / "summary.json").read_text())["run"]
    assert run["samples"] == 3
    assert run["hardware"]["source"] == "<neurosim>/hw_configs/loihi.yaml"
    assert "<neurosim>/models/digits_layered.nir" in json.dumps(run)


def test_in_the_checkout_the_shipped_files_are_the_repository_folders(tmp_path, monkeypatch):
    assert not paths.PACKAGED.exists()
    assert paths.HW_DIR == ROOT / "hw_configs" and paths.MODELS_DIR == ROOT / "models"
    assert paths.shipped_path("loihi", "hardware") == ROOT / "hw_configs" / "loihi.yaml"
    assert "loihi" in paths.shipped_names("hardware") and "digits_layered" in paths.shipped_names("model")
    monkeypatch.chdir(ROOT)
    assert paths.display_path(paths.DEFAULT_HW) == "hw_configs/loihi.yaml"  # as reports always showed it
    assert paths.display_path(paths.DEFAULT_MODEL) == "models/digits_layered.nir"
    monkeypatch.chdir(tmp_path)
    assert paths.display_path(paths.DEFAULT_HW) == "<neurosim>/hw_configs/loihi.yaml"
    assert paths.display_path(ROOT / "setup.py") == str(ROOT / "setup.py")
    assert paths.display_path(tmp_path / "mine.yaml") == "mine.yaml"
