"""YAML loading with line numbers, and pydantic validation errors turned into one-line
:class:`~neurosim.errors.ConfigError` messages ``file:line: key.path: reason``.

Shared by the hardware and the mapping descriptions and the sweep specs. Hostile or oversized
YAML is refused in one line before it can cost memory or time: files over ``MAX_BYTES`` (checked
with ``stat``), bytes that are not UTF-8, nesting beyond ``MAX_DEPTH``, alias expansion beyond
``MAX_ALIAS_NODES`` (billion laughs), Python tags. :func:`parse_value` applies the same rules to a
``--set`` value. The limits are listed in docs/input-limits.md.
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


MAX_BYTES = 1 << 20
"""Largest YAML file read by default (1 MiB; hardware files and sweep specs are a few KB). The
size is checked with ``stat`` before anything is read."""

MAX_MAPPING_BYTES = 32 << 20
"""Largest mapping file read (32 MiB: a mapping lists neuron ranges per core, ~100 bytes a core)."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted (the shipped files nest 4 deep)."""

MAX_ALIAS_NODES = 10_000
"""Most nodes that aliases (``*name``) may add beyond the document's own: a YAML alias bomb
("billion laughs") is refused as soon as its expansion passes this, in about 0.1 s."""

_STANDARD = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class _Budget:
    """Counts constructed nodes; the limit is the document's own node count plus ``MAX_ALIAS_NODES``."""

    def __init__(self, limit: int):
        self.left = limit


def _where(file: str, node: yaml.Node, path: tuple) -> dict:
    return {"file": file, "line": node.start_mark.line + 1, "key": ".".join(str(p) for p in path) or None}


def _check_tag(node: yaml.Node, path: tuple, file: str) -> None:
    tag = node.tag or ""
    if tag.startswith("tag:yaml.org,2002:python/"):
        shown = "!!" + tag.removeprefix("tag:yaml.org,2002:")
        reason = f"YAML tag {shown} is not allowed (Python objects are never built)"
        raise ConfigError(reason, **_where(file, node, path))
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and tag not in _STANDARD:
        raise ConfigError(f"YAML tag {tag!r} is not allowed on a collection", **_where(file, node, path))


def _construct(node: yaml.Node, path: tuple, lines: dict, file: str, budget: _Budget, _open: frozenset = frozenset()):
    budget.left -= 1
    if budget.left < 0:
        raise ConfigError(
            f"YAML aliases expand to more than {MAX_ALIAS_NODES} extra nodes (an alias bomb?)",
            **_where(file, node, path),
        )
    _check_tag(node, path, file)
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in _open:  # an alias to one of its own ancestors (&a [*a]) would recurse forever
            raise ConfigError("recursive YAML alias", **_where(file, node, path))
        _open = _open | {id(node)}
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k_node, v_node in node.value:
            key = _construct(k_node, path + ("<key>",), {}, file, budget)
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
            out[key] = _construct(v_node, path + (key,), lines, file, budget, _open)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, path + (i,), lines, file, budget, _open) for i, v in enumerate(node.value)]
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


def _own_nodes(root: yaml.Node) -> int:
    """Distinct nodes of a composed document (an alias is the node it names, counted once)."""
    seen, stack = set(), [root]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            stack.extend(x for kv in n.value for x in kv)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return len(seen)


class _DepthLoader(yaml.SafeLoader):
    """PyYAML's composer recurses once per nesting level: refuse depth beyond ``MAX_DEPTH`` first."""

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_SCALARS = yaml.SafeLoader("")


def load_yaml(path: str | Path, max_bytes: int = MAX_BYTES) -> Located:
    """Read a YAML file (one document, a mapping at the top) keeping each key's line.

    Refused in one line: files over ``max_bytes`` (checked before reading), bytes that are not
    UTF-8, nesting deeper than ``MAX_DEPTH``, aliases that expand past ``MAX_ALIAS_NODES``, Python
    tags (``!!python/...``) and any non-standard tag on a mapping or a sequence."""
    text = _read_text(path, max_bytes)
    file = str(path)
    node = _compose(text, file)
    if node is None:
        raise ConfigError("empty file: expected a YAML mapping", file=file, line=1)
    lines: dict[tuple, int] = {}
    data = _build(node, lines, file)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a YAML mapping at the top, found {type(data).__name__}", file=file, line=1)
    return Located(data, lines, file)


def parse_value(text: str, where: str) -> Any:
    """One YAML value given on the command line (``--set KEY=VALUE``), with the limits and
    refusals of :func:`load_yaml`; an error is a one-line ConfigError naming ``where``. An empty
    text is None (as ``yaml.safe_load``)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ConfigError(f"value is over the limit of {MAX_BYTES} bytes", key=where)
    try:
        node = _compose(text, where)
        return None if node is None else _build(node, {}, where)
    except ConfigError as exc:
        raise ConfigError(exc.reason, key=where) from None


def _compose(text: str, file: str) -> yaml.Node | None:
    """The node graph of one YAML document, nesting bounded (aliases included); syntax errors
    as one line. libyaml composes when PyYAML has it (fast, and its parser refuses nesting
    beyond 1000 levels without recursing); the pure-Python composer gives the error messages."""
    fast = getattr(yaml, "CSafeLoader", None)
    node = None
    if fast is not None:
        try:
            node = yaml.compose(text, Loader=fast)
        except yaml.YAMLError as exc:
            if "nesting depth" in str(exc):
                mark = getattr(exc, "problem_mark", None)
                reason = f"malformed YAML: nested more than {MAX_DEPTH} levels deep"
                raise ConfigError(reason, file=file, line=mark.line + 1 if mark else None) from None
            node = _compose_python(text, file)  # raises its own, better-placed error
    else:
        node = _compose_python(text, file)
    if node is not None:
        _check_depth(node, file)
    return node


def _compose_python(text: str, file: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_DepthLoader)
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
    except RecursionError:  # cannot happen below MAX_DEPTH; kept so that no traceback escapes
        raise ConfigError(f"malformed YAML: nested more than {MAX_DEPTH} levels deep", file=file) from None


def _check_depth(root: yaml.Node, file: str) -> None:
    """Refuse a document nested more than ``MAX_DEPTH`` levels, counting through aliases (so that
    building it never recurses deeper); iterative, each node visited once. A recursive alias is
    left to :func:`_construct`, which names it."""
    collections = (yaml.MappingNode, yaml.SequenceNode)
    if not isinstance(root, collections):
        return
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        kids = [x for kv in node.value for x in kv] if isinstance(node, yaml.MappingNode) else node.value
        kids = [k for k in kids if isinstance(k, collections)]
        if done:
            on_path.discard(id(node))
            d = 1 + max([depth.get(id(k), 0) for k in kids], default=0)
            depth[id(node)] = d
            if d > MAX_DEPTH:
                reason = f"malformed YAML: nested more than {MAX_DEPTH} levels deep (aliases included)"
                raise ConfigError(reason, file=file, line=node.start_mark.line + 1)
            continue
        if id(node) in depth or id(node) in on_path:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids)


def _build(node: yaml.Node, lines: dict, file: str) -> Any:
    """Python values of a composed document, aliases expanded within their budget."""
    try:
        return _construct(node, (), lines, file, _Budget(_own_nodes(node) + MAX_ALIAS_NODES))
    except yaml.YAMLError as exc:
        raise ConfigError("malformed YAML value: " + " ".join(str(exc).split()), file=file) from None
    finally:  # the constructor caches every node it built: drop them, or each load would leak them
        _SCALARS.constructed_objects.clear()
        _SCALARS.recursive_objects.clear()


def _read_text(path: str | Path, max_bytes: int) -> str:
    """The file's text: size checked with ``stat`` first, then decoded as strict UTF-8."""
    file, p = str(path), Path(path)
    if not file.strip():
        raise ConfigError("the file name is empty")
    try:
        st = p.stat()
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError)
        raise ConfigError("no such file" if missing else f"cannot read: {exc.strerror or exc}", file=file) from None
    if not p.is_file():
        raise ConfigError("not a file", file=file)
    if st.st_size > max_bytes:
        raise ConfigError(f"file is {st.st_size} bytes, over the limit of {max_bytes} bytes", file=file)
    try:
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)  # the file may have grown since stat
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from None
    if len(raw) > max_bytes:
        raise ConfigError(f"file is over the limit of {max_bytes} bytes", file=file)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} ({exc.reason})", file=file, line=line
        ) from None


def error_reason(err: Mapping[str, Any]) -> str:
    """One pydantic error (``exc.errors()[i]``) as a short lower-case reason ending in ``got <value>``."""
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling; see hw_configs/README.md for the schema)"
    if err["type"] == "missing":
        return "required key is missing"
    if err["type"] == "value_error" and "error" in err.get("ctx", {}):  # drop pydantic's "Value error, "
        msg = str(err["ctx"]["error"])
    inp = err.get("input")
    if not isinstance(inp, (dict, list)):
        got = repr(inp)
        msg = f"{msg}, got {got if len(got) <= 60 else got[:50] + '...'}"
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
        raise doc.error(loc, error_reason(err)) from None


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
