"""Proposed changes to a stack file, as a diff a reviewer can read and headroom can apply.

The stack file is the user's: comments, blank lines, key order, quoting, flow or
block style and ``secure:`` values must survive an edit byte for byte. So the
file is not re-serialized. ruamel.yaml's round-trip parser locates each value
to change (line and column), and only that token's bytes are replaced; a key
that does not exist yet is inserted as one new line at the section's
indentation. The result is parsed again and checked: it must differ from the
original in exactly the changed values and still pass the schema.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from infra.config import NAMESPACE, config_from_keys
from infra.config.loader import check_no_aliases, config_mapping_node, is_headroom_key, read_stack_text
from infra.errors import ConfigError
from infra.files import write_atomically

from ..analysis.changes import ConfigChange, format_scalar


class StaleFileError(ConfigError):
    """The stack file changed between reading it and writing the proposal."""


def _load_rt(text: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml.load(io.StringIO(text))


def _load_safe(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


class StackEdit:
    """Changes to one stack file, computed against its text as read.

    ``original`` is the text the config was loaded from (``infra.config.Stack.text``),
    so ``write`` refuses if the file changed at any time since, not only since the
    analysis. Line endings are the file's own: a CRLF file stays CRLF.
    """

    def __init__(self, path: Path, original: str | None = None) -> None:
        self.path = path
        self.original = read_stack_text(path) if original is None else original
        self.newline = "\r\n" if "\r\n" in self.original else "\n"
        self._digest = hashlib.sha256(self.original.encode()).hexdigest()

    def apply(self, changes: list[ConfigChange]) -> str:
        """The file's text with every change made; nothing is written."""
        text = self.original
        for change in changes:
            try:
                text = _apply_one(text, change, self.newline)
            except ConfigError as error:
                raise ConfigError(f"{self.path}: {error}") from None
        self._verify(text, changes)
        return text

    def diff(self, new_text: str) -> str:
        name = self.path.name
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True), new_text.splitlines(keepends=True), f"a/{name}", f"b/{name}"
            )
        )

    def write(self, new_text: str) -> None:
        """Replace the file atomically, unless it changed since it was read."""
        current = self.path.read_bytes()
        if hashlib.sha256(current).hexdigest() != self._digest:
            raise StaleFileError(f"{self.path} changed since headroom read it; nothing was written. Run again.")
        write_atomically(self.path, new_text, newline="")

    def _verify(self, text: str, changes: list[ConfigChange]) -> None:
        # Only headroom's sections are compared as data: every other key must keep
        # its exact text, so nothing of the user's (a YAML alias ladder included) is
        # ever expanded, round-tripped or re-quoted.
        check_no_aliases(_compose(self.original), self.path)
        if _outside_headroom(text) != _outside_headroom(self.original):
            raise ConfigError(f"{self.path}: headroom could not apply its changes without touching other values")
        before = _headroom_sections(_load_safe(self.original))
        after = _headroom_sections(_load_safe(text))
        expected = json.loads(json.dumps(before))
        actual = json.loads(json.dumps(after))
        for change in changes:
            section_key = f"{NAMESPACE}:{change.section}"
            structured = isinstance(change.new, (dict, list))
            expected.setdefault(section_key, {})[change.key] = change.new if structured else format_scalar(change.new).strip('"')
            # A value the user quoted stays quoted (a string the schema reads as a number).
            if not structured and isinstance(actual.get(section_key), dict) and change.key in actual[section_key]:
                actual[section_key][change.key] = format_scalar(actual[section_key][change.key]).strip('"')
        if actual != expected:
            raise ConfigError(f"{self.path}: headroom could not apply its changes without touching other values")
        config_from_keys(after, source=f"{self.path} (as proposed)")


def _compose(text: str) -> Any:
    return YAML(typ="safe", pure=True).compose(text)


def _headroom_sections(document: Any) -> dict[str, Any]:
    config = (document or {}).get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        return {}
    return {key: value for key, value in config.items() if str(key).startswith(f"{NAMESPACE}:")}


def _outside_headroom(text: str) -> str:
    """The file's text without the lines of its headroom sections: what headroom must not change."""
    config = config_mapping_node(_compose(text))
    if config is None:
        return text
    lines = text.splitlines(keepends=True)
    drop: set[int] = set()
    for key, value in config.value:
        if not is_headroom_key(key):
            continue
        end = value.end_mark
        # A block ends where the next token starts: that line is not the section's.
        last = end.line if not lines[end.line : end.line + 1] or not lines[end.line][: end.column].strip() else end.line + 1
        drop.update(range(key.start_mark.line, max(last, key.start_mark.line + 1)))
    return "".join(line for index, line in enumerate(lines) if index not in drop)


def _apply_one(text: str, change: ConfigChange, newline: str) -> str:
    document = _load_rt(text)
    config = document.get("config") if isinstance(document, CommentedMap) else None
    if not isinstance(config, CommentedMap):
        raise ConfigError("the stack file has no 'config:' mapping to change")
    lines = text.splitlines(keepends=True)
    section_key = f"{NAMESPACE}:{change.section}"
    if section_key not in config:
        return _append_section(lines, config, section_key, change, newline)
    section = config[section_key]
    if not isinstance(section, CommentedMap):
        raise ConfigError(f"{section_key} = {section!r} is not a mapping; set {change.key}: {format_scalar(change.new)} by hand")
    if change.key not in section and (section.fa.flow_style() or not section):
        # ``{...}``, or ``{}``: a section with no keys can only be written as a flow mapping.
        return _insert_flow_key(text, _offset(lines, section.lc.line, section.lc.col), change)
    if change.key in section and (isinstance(change.new, (dict, list)) or isinstance(section[change.key], (dict, list))):
        return _replace_block(lines, section, change, newline)
    if change.key in section:
        line, column = section.lc.value(change.key)
        lines[line] = _replace_token(lines[line], column, change.new, flow=section.fa.flow_style())
        return "".join(lines)
    return _insert_key(lines, section, change, newline)


def _replace_token(line: str, column: int, value: Any, flow: bool) -> str:
    """Replace the scalar starting at ``column``, keeping its quoting style and what follows it."""
    rest = line[column:]
    if rest[:1] in ("'", '"'):
        new = json.dumps(str(value)) if rest[0] == '"' else "'" + str(value).replace("'", "''") + "'"
        return line[:column] + new + rest[_quoted_end(rest, 0) :]
    stop = re.search(r"[,}\]]|\s#|\s*$" if flow else r"\s+#|\s*$", rest)
    end = stop.start() if stop else len(rest.rstrip("\r\n"))
    return line[:column] + format_scalar(value) + rest[end:]


def _replace_block(lines: list[str], section: CommentedMap, change: ConfigChange, newline: str) -> str:
    """Replace a structured value (a nested mapping or list) with one flow-style line.

    Comments inside the replaced block go with it: the block is headroom's proposal now.
    """
    key_line, key_column = section.lc.key(change.key)
    end = _block_end(lines, key_line, key_column)
    lines[key_line:end] = [f"{' ' * key_column}{change.key}: {format_scalar(change.new)}{newline}"]
    return "".join(lines)


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the last content line of the block that starts below line ``start``."""
    last = start
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(lines[index]) - len(lines[index].lstrip(" ")) <= indent:
            break
        last = index
    return last + 1


def _offset(lines: list[str], line: int, column: int) -> int:
    return sum(len(text) for text in lines[:line]) + column


def _insert_flow_key(text: str, start: int, change: ConfigChange) -> str:
    """Add ``key: value`` as the last entry of the flow mapping whose ``{`` is at ``start``.

    It goes straight after the mapping's last entry, so a ``}`` on a line of its own, a
    trailing comma and any comment inside the braces stay where the user put them.
    """
    last = _flow_mapping_last(text, start)
    separator = "" if text[last - 1] == "{" else " " if text[last - 1] == "," else ", "
    return text[:last] + f"{separator}{change.key}: {format_scalar(change.new)}" + text[last:]


def _flow_mapping_last(text: str, start: int) -> int:
    """The index just after the last character of the flow mapping opened at ``start`` that is
    neither blank, nor in a comment, nor its closing ``}``.

    Plain scalars in flow context cannot hold ``{}[],`` (YAML 1.2, 7.3.3), so only quoted
    scalars and comments need skipping; the parser has already accepted the text, and
    ``StackEdit._verify`` parses the result again.
    """
    depth, index, last = 0, start, start
    while index < len(text):
        char = text[index]
        if char in "'\"" and text[last - 1] in "{[,:":  # a quote inside a plain scalar is just a character
            index = _quoted_end(text, index)
            last = index
            continue
        if char == "#" and text[index - 1] in " \t\r\n":
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return last
        if not char.isspace():
            last = index + 1
        index += 1
    raise ConfigError("headroom could not find where a flow mapping {...} ends")


def _quoted_end(text: str, start: int) -> int:
    """The index just after the quoted scalar that starts at ``start``."""
    quote, index = text[start], start + 1
    while index < len(text):
        escaped = quote == '"' and text[index] == "\\"  # \" inside "..."
        doubled = quote == "'" and text[index : index + 2] == "''"  # '' inside '...'
        if escaped or doubled:
            index += 2
        elif text[index] == quote:
            return index + 1
        else:
            index += 1
    return index


def _insert_key(lines: list[str], section: CommentedMap, change: ConfigChange, newline: str) -> str:
    first = next(iter(section))
    key_line, key_column = section.lc.key(first)
    header = key_line - 1 if section.lc.line == key_line else section.lc.line
    header_indent = key_column - 2
    end = _block_end(lines, header, header_indent)
    if lines and not lines[end - 1].endswith("\n"):
        lines[end - 1] += newline
    lines.insert(end, f"{' ' * key_column}{change.key}: {format_scalar(change.new)}{newline}")
    return "".join(lines)


def _append_section(lines: list[str], config: CommentedMap, section_key: str, change: ConfigChange, newline: str) -> str:
    keys = list(config)
    indent = config.lc.key(keys[0])[1] if keys else 2
    config_line = config.lc.line - 1 if keys else 0
    end = _block_end(lines, max(0, config_line), indent - 1) if keys else len(lines)
    if lines and not lines[end - 1].endswith("\n"):
        lines[end - 1] += newline
    block = [f"{' ' * indent}{section_key}:{newline}", f"{' ' * (indent + 2)}{change.key}: {format_scalar(change.new)}{newline}"]
    lines[end:end] = block
    return "".join(lines)
