"""Personal data: which fields hold it (marked here, in one place), how each is masked for display — a phone number
keeps its first three and last four digits (138****5678), a name its first character (张*) — and which roles may
have a field revealed. Unmasked values leave only through an audited reveal with a reason. Also what a personal
field becomes once its record's retention has passed (anonymised), and the report of that."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

# Every field of every record that holds personal data, by record kind, with the kind of data it holds.
PERSONAL_FIELDS: dict[str, dict[str, str]] = {
    "incident": {"caller_name": "name", "caller_phone": "phone"},
}

# The roles whose work needs a caller's or a party's details (to call back, to summon, to serve a decision); a grid
# worker or an analyst never does.
MAY_REVEAL = frozenset(
    {"call_taker", "dispatcher", "duty_commander", "station_chief", "case_officer", "legal_reviewer", "mediator"}
)


def mask_phone(phone: str | None) -> str | None:
    if phone is None:
        return None
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) < 8:
        return "*" * (len(digits) - 4) + digits[-4:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip()
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


_MASKS: dict[str, Callable[[str | None], str | None]] = {"name": mask_name, "phone": mask_phone}


def mask(record: str, field: str, value: str | None) -> str | None:
    """``value`` of ``field`` of a ``record`` as it may be shown to anyone: masked by the kind of data it holds."""
    return _MASKS[PERSONAL_FIELDS[record][field]](value)


# What each kind of personal data becomes once its record's retention has passed: erased (NULL), as if the caller had
# given none. Not a placeholder ("匿名"), which every reader of the field would have to tell apart from a real name,
# and not a hash, which is still personal data: eleven-digit phone numbers are few enough to hash them all.
ANONYMISED_VALUE: dict[str, None] = {"name": None, "phone": None}


def anonymised(record: str) -> dict[str, None]:
    """The value each personal field of a ``record`` kind takes when the record is anonymised."""
    return {name: ANONYMISED_VALUE[kind] for name, kind in PERSONAL_FIELDS[record].items()}


@dataclass
class Anonymisation:
    """Records of one kind whose retention had passed and that still held personal data: how many, the oldest and
    newest time their retention is counted from (an incident's closing), and how many values each field lost.
    ``retention_days`` is None for a kind kept for good (no retention set)."""

    record: str
    retention_days: int | None
    records: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    fields: dict[str, int] = field(default_factory=dict)

    def add(self, count: int, oldest: datetime | None, newest: datetime | None, fields: dict[str, int]) -> None:
        """Fold in one batch (or one summary) of records."""
        if count == 0:
            return
        self.records += count
        if oldest is not None and (self.oldest is None or oldest < self.oldest):
            self.oldest = oldest
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest = newest
        for name, values in fields.items():
            if values:
                self.fields[name] = self.fields.get(name, 0) + values
