"""Personal data: which fields hold it (marked here, in one place), how each is masked for display — a phone number
keeps its first three and last four digits (138****5678), a name its first character (张*) — and which roles may
have a field revealed. Unmasked values leave only through an audited reveal with a reason."""

from __future__ import annotations

from collections.abc import Callable

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
