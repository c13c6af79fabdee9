"""Where the shipped files live: the hardware presets (``hw_configs/``) and the models (``models/``).

Their source of truth is the repository root. A built wheel carries copies as package data in
``neurosim/_shipped/`` (``setup.py``), found through :mod:`importlib.resources`; a checkout (an
editable install, or the tests) has no such folder and uses the repository's folders. One rule for
both: the package data folder when it is there, else the checkout's folder.
"""

from importlib import resources
from pathlib import Path

#: the folder above the package: the repository root in a checkout (site-packages when installed)
ROOT = Path(__file__).resolve().parents[1]
#: the package data folder of an installed wheel (absent in a checkout)
PACKAGED = Path(str(resources.files("neurosim") / "_shipped"))


def _shipped_dir(name: str) -> Path:
    packaged = PACKAGED / name
    return packaged if packaged.is_dir() else ROOT / name


HW_DIR = _shipped_dir("hw_configs")
MODELS_DIR = _shipped_dir("models")
DEFAULT_HW = HW_DIR / "loihi.yaml"
DEFAULT_MODEL = MODELS_DIR / "digits_layered.nir"
SHIPPED = {"hardware": (HW_DIR, ".yaml"), "model": (MODELS_DIR, ".nir")}


def is_bare_name(entry: str) -> bool:
    """A name with no folder and no suffix (``loihi``, ``digits_layered``): a shipped file."""
    return "/" not in entry and "\\" not in entry and not Path(entry).suffix


def shipped_path(name: str, kind: str) -> Path:
    """The shipped file of that bare name: ``hw_configs/<name>.yaml`` or ``models/<name>.nir``."""
    folder, suffix = SHIPPED[kind]
    return folder / f"{name}{suffix}"


def shipped_names(kind: str) -> list[str]:
    """The bare names of the shipped files of one kind, sorted."""
    folder, suffix = SHIPPED[kind]
    return sorted(q.stem for q in folder.glob(f"*{suffix}"))


def display_path(path) -> str | None:
    """A path as reports show it: a file of the installed package data as
    ``<neurosim>/hw_configs/loihi.yaml`` (the same on every machine); else relative to the working
    directory when it lies below it (so in a checkout, ``hw_configs/loihi.yaml``); else a shipped
    file of the checkout as ``<neurosim>/...`` too; else as given."""
    if path is None:
        return None
    p = Path(path).resolve()
    if p.is_relative_to(PACKAGED.resolve()):
        return f"<neurosim>/{p.relative_to(PACKAGED.resolve()).as_posix()}"
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        pass
    for folder in (HW_DIR, MODELS_DIR):
        if p.is_relative_to(folder.resolve()):
            return f"<neurosim>/{folder.name}/{p.relative_to(folder.resolve()).as_posix()}"
    return str(path)
