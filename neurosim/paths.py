"""Where the shipped files live: the repository root holds ``hw_configs/`` and ``models/``
(the package is installed in editable/development mode from a checkout, see README)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HW_DIR = ROOT / "hw_configs"
MODELS_DIR = ROOT / "models"
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
    """A path as reports show it: relative to the working directory when it lies below it."""
    if path is None:
        return None
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
