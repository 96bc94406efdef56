"""Read a config file's YAML with bounds: UTF-8 only, no duplicate keys, no alias bombs.

PyYAML's ``safe_load`` keeps the last of two equal keys silently, and expands nothing
itself but hands back a structure whose aliases may stand for 10^9 nodes (the "billion
laughs": a 758-byte file that every later walk over the config never finishes). Here the
nodes are counted as they are composed, an alias counting as the size of what it points to,
and reading stops at ``MAX_YAML_NODES``; every duplicated key is reported with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.config.records import ConfigError
from bench.config.schema import shown

# A suite is a few hundred nodes and a few kB; these are far above any real one.
MAX_CONFIG_BYTES = 2_000_000
MAX_YAML_NODES = 100_000  # counted as expanded: an alias counts as what it points to
MAX_YAML_DEPTH = 50  # nested collections (a suite needs about 5)

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _TooLarge(Exception):
    """The document expands past the node budget, nests too deeply, or refers to itself."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.line = None if mark is None else mark.line + 1


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts expanded nodes and records duplicate keys while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.expanded = 0
        self.depth = 0
        self.sizes: dict[int, int] = {}  # id(node) -> its expanded size, once composed
        self.duplicates: list[tuple[Any, int, int]] = []  # (key, first line, repeat line)

    def _grow(self, count: int, mark: Any) -> None:
        self.expanded += count
        if self.expanded > MAX_YAML_NODES:
            raise _TooLarge(
                f"the YAML expands to more than {MAX_YAML_NODES:,} values (an alias *name "
                "counts as a copy of what it points to), far more than any suite; nested "
                "aliases that multiply (a 'billion laughs' file) are refused. Write the "
                "values out, or reuse an anchor only a few times",
                mark,
            )

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:
                size = self.sizes.get(id(target))
                if size is None:
                    raise _TooLarge(
                        f"the alias {shown('*' + event.anchor)} is used inside the value "
                        "its anchor names, a structure that contains itself without end; "
                        "write the value out instead",
                        event.start_mark,
                    )
                self._grow(size, event.start_mark)
            return super().compose_node(parent, index)  # an unknown alias: PyYAML's error
        event = self.peek_event()
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise _TooLarge(
                f"the YAML nests lists and mappings more than {MAX_YAML_DEPTH} deep; a "
                "suite needs about 5 levels",
                event.start_mark,
            )
        before = self.expanded
        self._grow(1, event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        self.sizes[id(node)] = self.expanded - before
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        first: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # a merge (<<) may override keys: that is what it is for
            line = key_node.start_mark.line + 1
            key = (key_node.tag, key_node.value)
            if key in first:
                self.duplicates.append((key_node.value, first[key], line))
            else:
                first[key] = line
        return node


def decode_config(data: bytes, path: Path) -> str:
    """``data`` as UTF-8 text, or a ConfigError naming the first bad byte's offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start
        line = data.count(b"\n", 0, offset) + 1
        column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
        raise ConfigError(
            [
                f"{path}: not UTF-8 text: the byte 0x{data[offset]:02x} at byte offset "
                f"{offset:,} (line {line}, column {column}) cannot be decoded "
                f"({error.reason}). Save the config as UTF-8 (plain ASCII is UTF-8 too)."
            ]
        ) from None


def parse_config_yaml(text: str, path: Path) -> Any:
    """The document in ``text``; a ConfigError for invalid, oversized or ambiguous YAML."""
    loader = _BoundedLoader(text)
    try:
        data = loader.get_single_data()
    except _TooLarge as error:
        where = f" at line {error.line}" if error.line else ""
        raise ConfigError([f"{path}: refused{where}: {error}."]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError([f"{path}: not valid YAML{where}: {reason}."]) from None
    except RecursionError:
        raise ConfigError(
            [f"{path}: the YAML nests too deeply to read; a suite needs about 5 levels."]
        ) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError(
            [
                f"{path}: line {repeat}: the key {shown(key)} is written twice in one mapping "
                f"(first at line {first}); YAML would keep only the last value, silently. "
                "Remove one of them (or, for a second entry, start a new '- ' item)."
                for key, first, repeat in loader.duplicates
            ]
        )
    return data
