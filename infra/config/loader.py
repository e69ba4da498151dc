"""Turning a stack's ``headroom:*`` keys into a validated ``StackConfig``.

Two sources feed the same function, ``config_from_keys``: a ``Pulumi.<stack>.yaml``
file read by the CLI, and the config Pulumi hands the program during ``pulumi up``
(where structured values arrive as JSON strings). Keys of other namespaces
(``aws:region``, secrets of other tools) are the user's and are ignored; an
unknown key under ``headroom:`` is reported as a likely typo. What is ignored
silently otherwise gets a warning (``ignored_key_warnings``): a namespace one typo
away from ``headroom`` (``headroon:hpa``), and a stack with no ``headroom:`` key at all.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
import reprlib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import (
    NOT_SHOWN,
    ConfigProblem,
    ConfigValidationError,
    StackConfigWarning,
    StackFileError,
    StackNotFoundError,
)
from .rules import KeyedRuleError
from .schema import SECTION_KEYS, StackConfig

NAMESPACE = "headroom"
NEAR_MISS_RATIO = 0.8
"""How like ``headroom`` a namespace must be to be warned about: one letter off (``headroon``, ``headrom``,
``head-room``) or another case (``Headroom``); ``head`` or ``header`` are other tools' names."""
QUOTE_LIMIT = 200
"""At most this many characters of a user's value are quoted back in a message."""
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REPO_ROOT = Path(__file__).resolve().parents[2]
"""headroom's checkout when run from one (editable install); site-packages for a wheel."""


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding Pulumi.yaml, else headroom's own checkout, else ``start``.

    The checkout fallback lets ``--stack dev`` find the example stacks from anywhere in
    a development install; a wheel has no checkout (``REPO_ROOT`` is site-packages),
    so there it is the starting directory itself, and ``stack_file_path`` says so.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    if (REPO_ROOT / "Pulumi.yaml").is_file():
        return REPO_ROOT
    return here


def available_stacks(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def stack_file_path(stack: str, project_dir: Path | None = None) -> Path:
    """Resolve ``--stack``: a stack name (``dev``) or a path to a stack file."""
    if stack.endswith((".yaml", ".yml")) or "/" in stack:
        path = Path(stack)
        if not path.is_file():
            raise StackNotFoundError(f"stack file {stack}: {_not_a_file(path)}")
        return path
    project = project_dir or find_project_dir()
    if not _STACK_NAME.fullmatch(stack):
        raise StackNotFoundError(
            f"--stack {stack!r}: a stack name has only letters, digits, '_', '.' and '-'"
        )
    path = project / f"Pulumi.{stack}.yaml"
    if path.exists() and not path.is_file():
        raise StackNotFoundError(f"--stack {stack!r}: {path} {_not_a_file(path)}")
    if not path.is_file():
        known = ", ".join(available_stacks(project)) or "none"
        searched = "" if project_dir or (project / "Pulumi.yaml").is_file() else (
            f"; no Pulumi.yaml at or above it, so headroom looked in the current directory:"
            f" pass --project-dir DIR or --stack path/to/Pulumi.{stack}.yaml"
        )
        raise StackNotFoundError(
            f"--stack {stack!r}: no {path.name} in {project} (stacks there: {known}){searched}"
        )
    return path


def _not_a_file(path: Path) -> str:
    """Why ``path`` (not a regular file) cannot be a stack file: missing, a directory, or another kind of file."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory, not a stack file (give a Pulumi.<stack>.yaml file)"
    return "is not a regular file (a FIFO, a socket or a device), so headroom does not read it"


def read_stack_text(path: Path) -> str:
    """The stack file's text exactly as stored (line endings kept), for parsing and for edits."""
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise StackFileError(f"{path}: cannot read: {err}") from None


def read_stack_keys(path: Path, text: str | None = None) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file (or of ``text``, its content as read), exactly as written.

    YAML anchors and aliases are refused inside headroom sections (see
    ``check_no_aliases``); elsewhere they are the user's and stay unexpanded
    (the safe loader shares aliased objects, and nothing here walks them).
    """
    if text is None:
        text = read_stack_text(path)
    try:
        document = copy.deepcopy(_stack_document(text, str(path)))
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise StackFileError(f"{path}: not valid YAML{where}: {problem}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError(f"{path}: a stack file is a mapping with a 'config:' key, not {type(document).__name__}")
    keys = document.get("config") or {}
    if not isinstance(keys, dict):
        raise StackFileError(
            f"{path}: config = {quote(keys)}: must be a mapping of 'namespace:key' to values"
        )
    return keys


@functools.lru_cache(maxsize=32)
def _stack_document(text: str, path: str) -> Any:
    """A stack file's text parsed once: composed, checked for aliases, then constructed from the same nodes.

    Cached by text because one command reads its stack several times (the schema, the
    ignored-key warnings, the edit that follows); callers get a deep copy, so the cached
    document never changes. A text that fails raises every time (exceptions are not cached).
    """
    yaml = YAML(typ="safe", pure=True)
    root = yaml.compose(text)
    check_no_aliases(root, path)
    return None if root is None else yaml.constructor.construct_document(root)


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for a message, never longer than ``limit`` characters.

    Bounded while it is built, not cut afterwards: a value may be a structure of
    shared YAML aliases whose full repr would run to gigabytes.
    """
    shortener = reprlib.Repr()
    shortener.maxlevel = 3
    shortener.maxstring = shortener.maxother = shortener.maxlong = limit
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 10
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Quoted:
    """A value already quoted by ``quote``: shown as is by ``ConfigProblem``."""

    def __init__(self, value: Any) -> None:
        self.text = quote(value)

    def __repr__(self) -> str:
        return self.text


def config_mapping_node(root: Node | None) -> MappingNode | None:
    """The node of the document's ``config:`` mapping, if it has one."""
    if not isinstance(root, MappingNode):
        return None
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "config" and isinstance(value, MappingNode):
            return value
    return None


def is_headroom_key(node: Node) -> bool:
    return isinstance(node, ScalarNode) and str(node.value).startswith(f"{NAMESPACE}:")


def _nodes(root: Node) -> Iterator[tuple[Node, bool]]:
    """Every node under ``root`` once, with whether it was reached a second time (an alias)."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            yield node, True
            continue
        seen.add(id(node))
        yield node, False
        if isinstance(node, MappingNode):
            for key, value in node.value:
                pending.extend((key, value))
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)


def _aliased(root: Node) -> Node | None:
    """The first anchored or aliased node under ``root`` in the file (aliases share the anchored node)."""
    found = [node for node, repeated in _nodes(root) if repeated or node.anchor is not None or node.tag == _MERGE_TAG]
    return min(found, key=lambda node: node.start_mark.index, default=None)


def check_no_aliases(root: Node | None, path: Path | str) -> None:
    """Refuse YAML anchors (``&a``), aliases (``*a``) and merges (``<<``) in headroom sections.

    A few hundred bytes of nested aliases expand to gigabytes (the "billion laughs"),
    and headroom's own sections never need them: each value is written out in full.
    The check walks the composed node graph, where an alias is the anchored node
    itself, so it takes time in proportion to the file, not to the expansion.
    """
    config = config_mapping_node(root)
    if config is None:
        return
    allowed = "YAML anchors (&name), aliases (*name) and merge keys (<<) are not allowed in headroom sections; write each value out in full"
    for key, value in config.value:
        if key.tag == _MERGE_TAG or (isinstance(key, ScalarNode) and key.value == "<<"):
            merged = [node for node, _ in _nodes(value) if isinstance(node, MappingNode)]
            if any(is_headroom_key(k) for node in merged for k, _ in node.value):
                raise StackFileError(
                    f"{path}: config.<< (line {key.start_mark.line + 1}) brings in headroom sections: {allowed}"
                )
            continue
        if not is_headroom_key(key):
            continue
        found = key if key.anchor is not None else _aliased(value)
        if found is not None:
            line = found.start_mark.line + 1
            where = f"line {line}" if found.start_mark.index >= key.start_mark.index else f"an alias of the anchor at line {line}"
            raise StackFileError(f"{path}: {key.value} ({where}): {allowed}")


@dataclass(frozen=True)
class Stack:
    """A loaded stack: where its file is, its validated config, and the text they came from.

    ``text`` is the file as it was when the config was read: a proposal is computed
    against it, and ``--write`` refuses to write if the file changed since (a run may
    take minutes, during which the user may edit the file). Unpacks as ``path, config``.
    """

    path: Path
    config: StackConfig
    text: str

    @property
    def name(self) -> str:
        return stack_name(self.path)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.path, self.config))


def stack_name(path: Path) -> str:
    """The stack a file belongs to: ``Pulumi.dev.yaml`` -> ``dev`` (any other file name: its stem)."""
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name[len("Pulumi."):].rsplit(".", 1)[0]
    return path.stem


def load_stack(stack: str, project_dir: Path | None = None) -> Stack:
    """Find, read and validate a stack; the path comes back for messages and edits."""
    path = stack_file_path(stack, project_dir)
    text = read_stack_text(path)
    keys = read_stack_keys(path, text)
    warn_about_ignored_keys(keys, str(path))
    return Stack(path, config_from_keys(keys, source=str(path)), text)


def warn_about_ignored_keys(keys: Mapping[str, Any], source: str) -> None:
    """Each of ``ignored_key_warnings`` as a ``StackConfigWarning`` (the CLI prints it as a ``warning:`` line)."""
    for message in ignored_key_warnings(keys, source):
        warnings.warn(message, StackConfigWarning, stacklevel=3)


def ignored_key_warnings(keys: Mapping[str, Any], source: str) -> list[str]:
    """What headroom would ignore without a word: a namespace that is nearly ``headroom``, and no headroom key at all."""
    by_namespace: dict[str, list[str]] = {}
    for key in keys:
        by_namespace.setdefault(str(key).partition(":")[0], []).append(str(key))
    found = []
    for namespace, names in sorted(by_namespace.items()):
        if namespace != NAMESPACE and difflib.SequenceMatcher(None, namespace.lower(), NAMESPACE).ratio() >= NEAR_MISS_RATIO:
            found.append(f"{source}: {', '.join(quote(name) for name in names)}: namespace {quote(namespace)} is not "
                         f"{NAMESPACE!r}, so headroom ignores {'it' if len(names) == 1 else 'them'}; did you mean "
                         f"{quote(NAMESPACE + ':' + names[0].partition(':')[2])}?")
    if NAMESPACE not in by_namespace:
        found.append(f"{source}: no {NAMESPACE}:* key, so every setting is the reference default (docs/config.md); "
                     "is this the stack file you meant?")
    return found


def config_from_keys(keys: Mapping[str, Any], source: str) -> StackConfig:
    """Validate the ``headroom:*`` entries of a Pulumi config map into a ``StackConfig``."""
    sections: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    for full_key, value in keys.items():
        namespace, _, section = str(full_key).partition(":")
        if namespace != NAMESPACE:
            continue
        if section not in SECTION_KEYS:
            problems.append(ConfigProblem(source, str(full_key), NOT_SHOWN, _unknown_key_message(section, SECTION_KEYS)))
            continue
        parsed = _section_value(value)
        if not isinstance(parsed, dict) or set(parsed) == {"secure"}:
            problems.append(ConfigProblem(source, str(full_key), _Quoted(value), _section_type_message(value)))
            continue
        sections[section] = parsed
    try:
        # aws:region is the user's key, read only to check that ARNs and zones are in it.
        config = StackConfig.model_validate(sections, context={"aws_region": keys.get("aws:region")})
    except ValidationError as err:
        problems.extend(_problems_from(err, source))
    if problems:
        raise ConfigValidationError(problems)
    return config


def _section_value(value: Any) -> Any:
    # Pulumi hands structured values to the program as JSON text.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _section_type_message(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "headroom settings hold no secrets; write the value in plain text"
    return "must be a mapping of settings (key: value), as in the shipped Pulumi.dev.yaml"


def _unknown_key_message(key: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key (likely a typo); {hint}allowed: {', '.join(allowed)}"


def _problems_from(err: ValidationError, source: str) -> list[ConfigProblem]:
    problems = []
    for detail in err.errors():
        loc = detail["loc"]
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, KeyedRuleError):
            for key, value, message in cause.problems:
                problems.append(ConfigProblem(source, f"{NAMESPACE}:{key}", _Quoted(value), message))
            continue
        # An empty location is a rule across sections (StackConfig's own validators).
        key = NAMESPACE + ":" + (_format_loc(loc) if loc else "*")
        if detail["type"] == "extra_forbidden":
            allowed = _aliases_at(loc[:-1])
            problems.append(ConfigProblem(source, key, NOT_SHOWN, _unknown_key_message(str(loc[-1]), allowed)))
            continue
        message = detail["msg"].removeprefix("Value error, ")
        value = detail.get("input", NOT_SHOWN)
        if detail["type"] == "missing" or isinstance(value, dict):
            value = NOT_SHOWN  # the message names the values involved
        problems.append(ConfigProblem(source, key, value if value is NOT_SHOWN else _Quoted(value), message))
    return problems


def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, str) and not _PLAIN_KEY.fullmatch(part):
            # A mapping's own key (slo.endpoints["/api/v1/health"]), quoted so a newline or a dot in it shows as such.
            text += "" if part == "[key]" else f"[{json.dumps(part)}]"
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _aliases_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc``, for the 'did you mean' hint."""
    model: type[BaseModel] | None = StackConfig
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        if part not in {field.alias or name for name, field in model.model_fields.items()}:
            continue  # a mapping's own key (slo.endpoints.NAME): the model is its values'
        model = _field_model(model, part)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _field_model(model: type[BaseModel], alias: str) -> type[BaseModel] | None:
    for name, field in model.model_fields.items():
        if (field.alias or name) != alias:
            continue
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                return candidate
    return None
