"""The one safe YAML reader (mapping files and report settings files use it).

Protections, each refused with one sentence that names the file and line:

* a size limit (1 MB: no mapping or settings file needs more);
* every explicit tag (``!!python/object``...), anchor and alias (so no object is ever
  constructed from the file and no alias "bomb" can multiply it);
* a nesting depth limit (``max_depth``; a mapping needs 4 levels), checked on the tokens
  before anything recursive runs;
* a key written twice in the same mapping (YAML would silently keep the last one).

:func:`read_yaml` also returns the line of every key and, for keys that YAML turned
into something other than text (``01`` -> the number 1, ``yes`` -> true), the text as
written, so messages can explain a mismatch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import DataError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "YamlDoc", "read_yaml"]

MAX_YAML_BYTES = 1_000_000
MAX_YAML_DEPTH = 16
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class YamlDoc:
    """A YAML file read safely.

    Attributes
    ----------
    content
        The document (``{}`` for an empty file).
    name
        The file's name (no folder), used in messages.
    lines
        Line of each key and list item, by path (a tuple of keys / indexes as YAML read them).
    written
        For keys YAML did not read as text, the text as written, by path (``("arms", 1): "01"``).
    """

    content: Any
    name: str
    lines: dict[tuple, int] = field(default_factory=dict)
    written: dict[tuple, str] = field(default_factory=dict)


def _problem(file: str, line: int | None, rule: str, text: str, value: Any = None,
             column: str | None = None) -> dict[str, Any]:
    where = f"{file}, line {line}" if line else file
    if column:
        where += f", key '{column}'"
    return {"file": file, "row": line, "column": column, "value": value, "rule": rule,
            "message": f"{where}: {text}" + ("" if text.endswith((".", "?")) else ".")}


def _fail(file: str, line: int | None, rule: str, text: str, value: Any = None) -> DataError:
    return DataError([_problem(file, line, rule, text, value)])


def _scan(text: str, file: str, what: str, max_depth: int) -> None:
    """Refuse tags, anchors, aliases and deep nesting, from the tokens (no recursion)."""
    import yaml

    opens = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
             yaml.FlowSequenceStartToken)
    closes = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    depth = 0
    try:
        for tok in yaml.scan(text, Loader=yaml.SafeLoader):
            line = tok.start_mark.line + 1
            if isinstance(tok, (yaml.TagToken, yaml.AliasToken, yaml.AnchorToken)):
                kind = "tag " + "".join(tok.value) if isinstance(tok, yaml.TagToken) else "anchor or alias"
                raise _fail(file, line, "yaml_tag", f"the {what} carries a YAML {kind}, which retrostudy refuses "
                            f"(it never constructs objects or runs code from a {what}); remove it and write plain "
                            "keys and values", kind)
            if isinstance(tok, opens):
                depth += 1
                if depth > max_depth:
                    raise _fail(file, line, "yaml_depth", f"the {what} is nested more than {max_depth} levels deep "
                                f"here, which no {what} needs; check the indentation and brackets")
            elif isinstance(tok, closes):
                depth -= 1
    except yaml.YAMLError as exc:
        raise _syntax(exc, file, what) from None


def _syntax(exc: Exception, file: str, what: str) -> DataError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    why = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return _fail(file, line, "yaml_syntax", f"the {what} is not valid YAML ({why}); fix the indentation or "
                 "quoting on that line")


def _walk(loader: Any, root: Any, file: str) -> tuple[dict[tuple, int], dict[tuple, str], list[dict]]:
    """Line and written text of every key; one problem per key written twice."""
    import yaml

    lines: dict[tuple, int] = {}
    written: dict[tuple, str] = {}
    dups: list[dict] = []
    stack: list[tuple[Any, tuple]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, tuple[int, str]] = {}
            for knode, vnode in node.value:
                if isinstance(knode, yaml.ScalarNode):
                    key = loader.construct_object(knode, deep=True)
                else:
                    key = knode.start_mark.line + 1  # a complex key: refused by the checks of the content
                line = knode.start_mark.line + 1
                p = path + (key,)
                try:
                    first = seen.get(key)
                except TypeError:
                    first = None
                if first is not None:
                    dotted = ".".join(str(x) for x in p)
                    same = (f"the key '{knode.value}' is written twice in the same place" if first[1] == knode.value
                            else f"the keys '{first[1]}' and '{knode.value}' are the same key for YAML")
                    dups.append(_problem(file, line, "yaml_duplicate_key",
                                         f"{same} (lines {first[0]} and {line}), and YAML would silently keep only "
                                         "the last one; delete or rename one of them", knode.value, dotted))
                else:
                    try:
                        seen[key] = (line, str(getattr(knode, "value", "")))
                    except TypeError:
                        pass
                lines.setdefault(p, line)
                if isinstance(knode, yaml.ScalarNode) and knode.tag != _STR_TAG:
                    written[p] = knode.value
                stack.append((vnode, p))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[path + (i,)] = v.start_mark.line + 1
                stack.append((v, path + (i,)))
    return lines, written, sorted(dups, key=lambda d: d["row"])


def read_yaml(path: str | os.PathLike, *, what: str = "mapping file", max_bytes: int = MAX_YAML_BYTES,
              max_depth: int = MAX_YAML_DEPTH) -> YamlDoc:
    """Read a small YAML file safely (see the module docstring).

    Parameters
    ----------
    path
        The YAML file.
    what
        What the file is, for messages (``"mapping file"``, ``"settings file"``).
    max_bytes, max_depth
        Size and nesting limits.

    Returns
    -------
    YamlDoc

    Raises
    ------
    DataError
        Every problem (missing file, size, tag or alias, depth, syntax, duplicate keys)
        as a sentence naming the file and the line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = p.write_text("arms:\\n  01: retro\\n")
    >>> doc = read_yaml(p)
    >>> doc.content, doc.lines[("arms", 1)], doc.written[("arms", 1)]
    ({'arms': {1: 'retro'}}, 2, '01')
    """
    import yaml

    name = os.path.basename(os.fspath(path))
    problem = None
    if not os.path.exists(path):
        problem = f"the {what} does not exist; check the path"
    elif os.path.isdir(path):
        problem = f"the {what} path is a folder, not a YAML file; give the file itself"
    elif os.path.getsize(path) > max_bytes:
        problem = (f"the {what} is larger than {max_bytes / 1e6:g} MB, which no {what} needs; give the right "
                   "file")
    if problem:
        raise _fail(name, None, "yaml_file", problem)
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(name, None, "yaml_file", f"the {what} cannot be read as UTF-8 text "
                    f"({exc.__class__.__name__}); save it as a plain UTF-8 YAML file") from None
    _scan(text, name, what, max_depth)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlDoc({}, name)
        lines, written, dups = _walk(loader, root, name)
        if dups:
            raise DataError(dups)
        content = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise _syntax(exc, name, what) from None
    finally:
        loader.dispose()
    return YamlDoc({} if content is None else content, name, lines, written)
