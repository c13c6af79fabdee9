"""YAML loading with line numbers, and pydantic validation errors turned into one-line
:class:`~neurosim.errors.ConfigError` messages ``file:line: key.path: reason``.

Shared by the hardware and the mapping descriptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from neurosim.errors import ConfigError

M = TypeVar("M", bound=pydantic.BaseModel)


class Located:
    """A parsed YAML document plus the line of every key path (1-based)."""

    def __init__(self, data: Any, lines: dict[tuple, int], file: str):
        self.data, self.lines, self.file = data, lines, file

    def line_of(self, path: tuple) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def error(self, path: tuple, reason: str) -> ConfigError:
        key = ".".join(str(p) for p in path) or None
        return ConfigError(reason, file=self.file, line=self.line_of(path), key=key)


def _construct(node: yaml.Node, path: tuple, lines: dict, file: str, _open: frozenset = frozenset()):
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in _open:  # an alias to one of its own ancestors (&a [*a]) would recurse forever
            raise ConfigError(
                "recursive YAML alias", file=file, line=node.start_mark.line + 1, key=".".join(map(str, path)) or None
            )
        _open = _open | {id(node)}
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k_node, v_node in node.value:
            key = _construct(k_node, path + ("<key>",), {}, file)
            if isinstance(key, (list, dict)):
                raise ConfigError("a mapping key must be a scalar", file=file, line=k_node.start_mark.line + 1)
            if key in out:
                raise ConfigError(
                    f"duplicate key {key!r}",
                    file=file,
                    line=k_node.start_mark.line + 1,
                    key=".".join(map(str, path + (key,))),
                )
            lines[path + (key,)] = k_node.start_mark.line + 1
            out[key] = _construct(v_node, path + (key,), lines, file, _open)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, path + (i,), lines, file, _open) for i, v in enumerate(node.value)]
    try:
        return _SCALARS.construct_object(node, deep=True)  # resolves int, float, bool, null, str
    except yaml.MarkedYAMLError as exc:  # e.g. an unknown tag (!foo); its str() spans several lines
        reason = exc.problem or exc.context or "cannot construct value"
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. !!int abc raises a bare ValueError
        reason = str(exc)
    raise ConfigError(
        f"malformed YAML value: {reason}",
        file=file,
        line=node.start_mark.line + 1,
        key=".".join(str(p) for p in path if p != "<key>") or None,
    )


_SCALARS = yaml.SafeLoader("")


def load_yaml(path: str | Path) -> Located:
    """Read a YAML file (one document, a mapping at the top) keeping each key's line."""
    file = str(path)
    p = Path(path)
    if not p.is_file():
        raise ConfigError("no such file" if not p.exists() else "not a file", file=file)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=file) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"malformed YAML: {exc.problem or exc.context}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:  # str(exc) spans two lines; report the line instead
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise ConfigError(
            f"malformed YAML: unacceptable character {char}: {exc.reason}", file=file, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError("malformed YAML: " + " ".join(str(exc).split()), file=file) from None
    if node is None:
        raise ConfigError("empty file: expected a YAML mapping", file=file, line=1)
    lines: dict[tuple, int] = {}
    try:
        data = _construct(node, (), lines, file)
    except yaml.YAMLError as exc:
        raise ConfigError("malformed YAML value: " + " ".join(str(exc).split()), file=file) from None
    if not isinstance(data, dict):
        raise ConfigError(f"expected a YAML mapping at the top, found {type(data).__name__}", file=file, line=1)
    return Located(data, lines, file)


def _reason(err: Mapping[str, Any]) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling; see hw_configs/README.md for the schema)"
    if err["type"] == "missing":
        return "required key is missing"
    inp = err.get("input")
    if not isinstance(inp, (dict, list)):
        msg = f"{msg}, got {inp!r}"
    return msg[0].lower() + msg[1:]


def validate(model: type[M], doc: Located, data: Any | None = None) -> M:
    """Validate ``doc.data`` (or ``data``) against ``model``; the first error becomes a ConfigError."""
    try:
        return model.model_validate(doc.data if data is None else data)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False)
        # a misspelt key shows up both as missing and as unknown: name the unknown one (the typo)
        err = min(errors, key=lambda e: e["type"] != "extra_forbidden")
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        raise doc.error(loc, _reason(err)) from None


def set_path(data: dict, dotted: str, value: Any, create: bool = False) -> None:
    """Set ``data['a']['b'] = value`` for ``dotted == 'a.b'`` (used by parameter overrides).
    With ``create`` (the caller has checked ``dotted`` against its schema), a key or section the
    file leaves to its default is added instead of rejected."""
    keys = dotted.split(".")
    cur = data
    for k in keys[:-1]:
        if create and k not in cur:
            cur[k] = {}
        if not isinstance(cur.get(k), dict):
            raise ConfigError(f"override {dotted!r}: {k!r} is not a section")
        cur = cur[k]
    if keys[-1] not in cur and not create:
        raise ConfigError(f"override {dotted!r}: no such key")
    cur[keys[-1]] = value
