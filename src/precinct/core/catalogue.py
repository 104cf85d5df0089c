"""The 4-level incident-type catalogue (警情类别 → 类型 → 细类 → 子类, 8-character codes): parsing and checking a
catalogue file, and resolving each entry's priority and response target from its nearest ancestor that sets one."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

LEVEL_DIGITS = (2, 4, 6, 8)  # a level-n code is its first LEVEL_DIGITS[n-1] characters followed by zeros
_COLUMNS = ("code", "parent", "name_zh", "name_en", "priority", "response_target_s")


class CatalogueError(ValueError):
    """A catalogue file that cannot be used; the message lists every bad line."""


@dataclass(frozen=True)
class TypeEntry:
    code: str
    parent_code: str | None
    level: int
    name_zh: str
    name_en: str
    priority: int | None
    response_target_s: int | None


def code_level(code: str) -> int:
    """Level 1..4 of an 8-character code, from where its trailing '00' pairs begin."""
    for level, digits in enumerate(LEVEL_DIGITS, start=1):
        if code[digits:] == "0" * (8 - digits):
            return level
    raise AssertionError("unreachable: level 4 matches every code")


def category_of(code: str) -> str:
    return code[:2] + "000000"


def parse_catalogue(text: str) -> list[TypeEntry]:
    """Parse a catalogue CSV (columns: code, parent, name_zh, name_en, priority, response_target_s).

    Raises ``CatalogueError`` listing every line that is wrong: a code that is not 8 letters or digits, a
    duplicate code, a parent that is missing or is not the code's own prefix one level up, a priority outside
    1..4, a target that is not a positive whole number of seconds, or a leaf that inherits no priority.
    """
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or set(_COLUMNS) - set(reader.fieldnames):
        raise CatalogueError(f"the catalogue's header must name the columns {', '.join(_COLUMNS)}")
    errors: list[str] = []
    entries: dict[str, TypeEntry] = {}
    for line, row in enumerate(reader, start=2):
        code = (row["code"] or "").strip()
        if len(code) != 8 or not code.isalnum() or not code.isascii() or code != code.upper():
            errors.append(f"line {line}: code {code!r} is not 8 upper-case letters or digits")
            continue
        if code in entries:
            errors.append(f"line {line}: code {code} appears twice")
            continue
        level = code_level(code)
        parent = (row["parent"] or "").strip() or None
        expected_parent = None if level == 1 else _prefix_parent(code, level)
        if parent != expected_parent:
            errors.append(f"line {line}: code {code} (level {level}) must have parent {expected_parent or 'none'}")
            continue
        priority = _int_or_none(row["priority"], line, "priority", errors)
        if priority is not None and not 1 <= priority <= 4:
            errors.append(f"line {line}: priority {priority} is outside 1..4")
        target = _int_or_none(row["response_target_s"], line, "response_target_s", errors)
        if target is not None and target <= 0:
            errors.append(f"line {line}: response target {target} s is not positive")
        name_zh, name_en = (row["name_zh"] or "").strip(), (row["name_en"] or "").strip()
        if not name_zh or not name_en:
            errors.append(f"line {line}: code {code} needs both a Chinese and an English name")
        entries[code] = TypeEntry(code, parent, level, name_zh, name_en, priority, target)
    for entry in entries.values():
        if entry.parent_code is not None and entry.parent_code not in entries:
            errors.append(f"code {entry.code}: its parent {entry.parent_code} is not in the catalogue")
    if not entries and not errors:
        errors.append("the catalogue has no entries")
    if errors:
        raise CatalogueError("; ".join(errors))
    return [_resolve(entry, entries) for entry in entries.values()]


def _prefix_parent(code: str, level: int) -> str:
    digits = LEVEL_DIGITS[level - 2]
    return code[:digits] + "0" * (8 - digits)


def _int_or_none(raw: str | None, line: int, column: str, errors: list[str]) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors.append(f"line {line}: {column} {raw!r} is not a whole number")
        return None


def _resolve(entry: TypeEntry, entries: dict[str, TypeEntry]) -> TypeEntry:
    """Fill a missing priority or target from the nearest ancestor; categories may stay empty."""
    priority, target = entry.priority, entry.response_target_s
    parent = entry.parent_code
    while parent is not None and (priority is None or target is None):
        ancestor = entries[parent]
        priority = priority if priority is not None else ancestor.priority
        target = target if target is not None else ancestor.response_target_s
        parent = ancestor.parent_code
    return TypeEntry(entry.code, entry.parent_code, entry.level, entry.name_zh, entry.name_en, priority, target)
