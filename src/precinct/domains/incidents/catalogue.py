"""Loading the incident-type catalogue from its data file: the packaged default, or a file a user supplies."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sqlalchemy import select

from precinct.core.catalogue import CatalogueError, parse_catalogue
from precinct.domains.incidents.models import Incident, IncidentType
from precinct.platform import reference
from precinct.platform.context import Ctx
from precinct.platform.errors import Conflict, InvalidInput


def default_catalogue_text() -> str:
    return resources.files("precinct.data").joinpath("incident_types.csv").read_text(encoding="utf-8")


def load_catalogue(ctx: Ctx, path: Path | None = None) -> int:
    """Insert or update every entry of a catalogue file; entries in use may change but not disappear.

    Returns the number of entries loaded.
    """
    try:
        text = path.read_text(encoding="utf-8") if path is not None else default_catalogue_text()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read the catalogue file {path}: {error}") from error
    try:
        entries = parse_catalogue(text)
    except CatalogueError as error:
        raise InvalidInput(f"the catalogue file {path or 'incident_types.csv'} is not valid: {error}") from error
    session = ctx.session
    existing = {t.code: t for t in session.scalars(select(IncidentType))}
    wanted = {e.code for e in entries}
    used = set(session.scalars(select(Incident.type_code).distinct()))
    dropped_in_use = sorted((set(existing) - wanted) & used)
    if dropped_in_use:
        raise Conflict(f"the new catalogue drops types that incidents use: {', '.join(dropped_in_use[:20])}")
    for entry in sorted(entries, key=lambda e: e.level):  # parents before children
        row = existing.get(entry.code) or IncidentType(code=entry.code)
        row.parent_code = entry.parent_code
        row.level = entry.level
        row.name_zh = entry.name_zh
        row.name_en = entry.name_en
        row.priority = entry.priority
        row.response_target_s = entry.response_target_s
        session.add(row)
        session.flush()
    for code in sorted(set(existing) - wanted, key=lambda c: existing[c].level, reverse=True):
        session.delete(existing[code])
        session.flush()  # one at a time, so that children go before their parents
    reference.bump(ctx, reference.CATALOGUE)
    return len(entries)
