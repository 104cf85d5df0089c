"""Masking of personal data for display: a phone number keeps its first three and last four digits
(138****5678), a name its first character (张*). Unmasked values leave only through an audited reveal."""

from __future__ import annotations


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
