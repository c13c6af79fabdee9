"""Build the API reference (HTML, from the docstrings) with pdoc: ``python docs/build_api.py [OUT]``
(default ``site/``; see docs/api.md). Exits 1, naming them, on any warning pdoc gives (a module
that does not import, a public name that does not resolve).

``neurosim``'s public names are imported lazily (``import neurosim`` stays cheap); they are resolved
here first, so pdoc documents them on the ``neurosim`` page.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import pdoc
import pdoc.render

#: the public modules, each documented with its submodules
MODULES = (
    "neurosim",
    "neurosim.describe",
    "neurosim.io",
    "neurosim.mapping",
    "neurosim.sim",
    "neurosim.analysis",
    "neurosim.report",
    "neurosim.experiments",
    "neurosim.data",
    "neurosim.errors",
)
#: pdoc cannot read the string annotations of a NamedTuple's generated ``__new__`` under
#: ``from __future__ import annotations`` (neurosim.data.events.Events); the page still shows them
KNOWN = ("Error parsing type annotation ForwardRef('np.ndarray') for neurosim.data.events.Events.__init__",)


def build(out: str | Path, *, source: bool = False) -> list[str]:
    """Write the HTML reference of :data:`MODULES` into ``out``; return pdoc's warnings (the known,
    harmless ones left out). ``source=True`` also embeds each function's source."""
    neurosim = importlib.import_module("neurosim")
    for name in neurosim.__all__:  # lazy names into the module's namespace, where pdoc looks
        vars(neurosim)[name] = getattr(neurosim, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.render.configure(docformat="restructuredtext", show_source=source, footer_text="neurosim API")
        pdoc.pdoc(*MODULES, output_directory=Path(out))
    messages = dict.fromkeys(str(w.message) for w in caught)
    return [m for m in messages if not m.startswith(KNOWN)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "site")
    problems = build(out)
    for p in problems:
        print(f"build_api: {p}", file=sys.stderr)
    print(f"wrote {out / 'index.html'}" if not problems else f"build_api: {len(problems)} warnings")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
