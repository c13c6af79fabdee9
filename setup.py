"""Build step: the shipped hardware presets and models are package data.

They live at the repository root (``hw_configs/``, ``models/``: the source of truth, linked from
the README and the docs); a build copies them into ``neurosim/_shipped/`` of the wheel, where
``neurosim.paths`` finds them through ``importlib.resources``. An editable install copies nothing:
there ``neurosim.paths`` finds the folders of the checkout. Everything else is in ``setup.cfg``.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: the folders shipped as package data, and the files of each that are shipped
SHIPPED = {"hw_configs": (".yaml", ".md"), "models": (".nir", ".md")}
TARGET = Path("neurosim", "_shipped")


def shipped_files() -> list[Path]:
    """The shipped files, relative to the repository root, sorted (hidden files left out)."""
    out = []
    for folder, suffixes in SHIPPED.items():
        out += [p.relative_to(HERE) for p in (HERE / folder).iterdir() if p.is_file() and p.suffix in suffixes]
    return sorted(p for p in out if not p.name.startswith("."))


class BuildWithShippedFiles(build_py):
    """``build_py`` that also copies the shipped folders into ``neurosim/_shipped/``, replacing
    what an earlier build left there (so that a removed preset is not shipped any more)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        self.prune_stale()
        target = Path(self.build_lib, TARGET)
        if target.exists():
            shutil.rmtree(target)
        for rel in shipped_files():
            (target / rel.parent).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HERE / rel, target / rel)

    def prune_stale(self) -> None:
        """Remove what an earlier build left in the build folder that the source no longer has (a
        deleted or moved module would otherwise stay in every wheel built from this checkout)."""
        keep = {Path(p).resolve() for p in super().get_outputs(include_bytecode=False)}
        for path in Path(self.build_lib, "neurosim").rglob("*"):
            if path.is_file() and TARGET.name not in path.parts and path.resolve() not in keep:
                path.unlink()

    def get_outputs(self, include_bytecode=True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [str(Path(self.build_lib, TARGET, rel)) for rel in shipped_files()]


setup(cmdclass={"build_py": BuildWithShippedFiles})
