"""Names that become file names: the suite's (its results folder) and the entries' (their plots).

A suite's ``name`` is the folder ``results/<name>/``, so it must be one safe path component.
A problem's or optimizer's name is free text in the tables; its ``slug`` names its files,
and two entries of one section must not share a slug, even on a file system that ignores case.
"""

from __future__ import annotations

import hashlib
import re

from bench.config.schema import shown

# One path component on the common file systems (ext4, APFS, NTFS): at most 255 bytes.
MAX_NAME_BYTES = 255
# The readable part of a slug; with the hash and a plot's suffix it stays far below 255 bytes.
MAX_SLUG_CHARS = 80
SLUG_HASH_CHARS = 8

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def slug(name: str) -> str:
    """A file-name-safe version of a problem or optimizer name; distinct names stay distinct.

    ASCII letters, digits, ``_``, ``.`` and ``-`` are kept; every other run of characters
    becomes one ``-``, and leading or trailing ``-``/``.`` are dropped. A name that is not
    already its own slug (anything replaced, dropped or cut to ``MAX_SLUG_CHARS``) gets a
    hash of the whole name appended, so ``ρ-valley`` and ``σ-valley`` (both ``valley`` once
    cleaned) get different slugs. Stable across runs and machines (SHA-256 of the UTF-8
    bytes), never empty.
    """
    base = _UNSAFE.sub("-", name).strip("-.")
    if base == name and 0 < len(base) <= MAX_SLUG_CHARS:
        return base
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    readable = base[:MAX_SLUG_CHARS].rstrip("-.") or "name"
    return f"{readable}-{digest[:SLUG_HASH_CHARS]}"


def suite_name_problem(name: object) -> str | None:
    """What is wrong with ``name`` as a suite name (a results folder), or None if nothing."""
    if not isinstance(name, str):
        return f"it is a {type(name).__name__}, not a string"
    if not name:
        return "it is empty"
    if not name.strip():
        return "it is blank"
    if "\x00" in name:
        return "it contains a NUL character"
    if _CONTROL.search(name):
        return "it contains a control character (such as a newline or a tab)"
    if "/" in name or "\\" in name:
        return "it contains a path separator ('/' or '\\')"
    if name.startswith("."):
        return "it starts with '.' (a hidden folder, or '..', the folder above)"
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        return f"it is {size:,} bytes long in UTF-8, above {MAX_NAME_BYTES}"
    return None


def slug_collisions(entries: list[tuple[str, str]], what: str, source: str = "") -> list[str]:
    """One message per pair of entries whose file names would be the same.

    ``entries`` are (where, name) pairs of one section (problems, or optimizers); names
    that are equal are left to the duplicate-name check. Slugs are compared ignoring case:
    ``Adam`` and ``adam`` are one file on macOS's and Windows's default file systems.
    ``source`` (the config's path, which starts every ``where``) is not repeated inside.
    """
    errors = []
    seen: dict[str, tuple[str, str]] = {}
    for where, name in entries:
        key = slug(name).lower()
        if key not in seen:
            seen[key] = (where, name)
            continue
        first_where, first_name = seen[key]
        first_where = first_where.removeprefix(f"{source}: ") if source else first_where
        if first_name == name:
            continue
        first_slug, this_slug = slug(first_name), slug(name)
        if first_slug == this_slug:
            clash, advice = f"both give the file name {this_slug!r}", "rename one of them"
        else:
            clash = (
                f"give the file names {first_slug!r} and {this_slug!r}, one file on a file "
                "system that ignores case (macOS's and Windows's default)"
            )
            advice = "rename one so that the two differ in more than letter case"
        errors.append(
            f"{where}: the {what} names {shown(first_name)} ({first_where}) and "
            f"{shown(name)} {clash}, so their plots would overwrite each other; {advice}."
        )
    return errors
