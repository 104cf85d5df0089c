"""Importing historical calls for service as closed incidents: a job that owns its transactions, one per batch,
so that an interrupted import resumes where it stopped and a second run adds nothing."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import insert, select

from precinct.core.calls import CallFileError, read_call_points
from precinct.core.catalogue import category_of
from precinct.core.geo.cells import cell_of
from precinct.domains.incidents.models import Incident, IncidentCounter, IncidentEvent, IncidentType
from precinct.domains.incidents.repository import IncidentRepository, format_number
from precinct.domains.incidents.service import UNASSIGNED_PREFIX
from precinct.domains.orgs import service as orgs
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.platform.errors import InvalidInput

IMPORT_ACTOR = "import:calls"


@dataclass(frozen=True)
class CallMapping:
    """Which catalogue type and priority each value of one source field becomes (a data file, not code)."""

    field: str
    types: dict[str, tuple[str, int]]


@dataclass
class ImportReport:
    records: int
    imported: int = 0
    already_present: int = 0
    unassigned: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def read_mapping(path: Path) -> CallMapping:
    """Read a mapping CSV whose first column names the source field, with ``type_code`` and ``priority``."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InvalidInput(f"cannot read the mapping file {path}: {error}") from error
    if len(header) < 3 or not {"type_code", "priority"} <= set(header):
        raise InvalidInput(
            f"the mapping file {path.name} needs a first column named after the source field, "
            "then type_code and priority columns"
        )
    source_field = header[0]
    types: dict[str, tuple[str, int]] = {}
    errors: list[str] = []
    for line, row in enumerate(rows, start=2):
        value, code, priority = ((row.get(c) or "").strip() for c in (source_field, "type_code", "priority"))
        if not value or len(code) != 8 or priority not in ("1", "2", "3", "4"):
            errors.append(f"line {line}: needs a value, an 8-character type code and a priority 1-4")
        elif value in types:
            errors.append(f"line {line}: {value!r} is mapped twice")
        else:
            types[value] = (code, int(priority))
    if errors:
        raise InvalidInput(f"the mapping file {path.name} has errors: {'; '.join(errors[:20])}")
    return CallMapping(source_field, types)


def import_calls(
    db: Database,
    settings: Settings,
    path: Path,
    mapping_path: Path,
    *,
    date_field: str,
    source: str = "phone_110",
    timezone: str | None = None,
    batch_size: int = 2000,
    on_batch: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Load every call in ``path`` as a closed historical incident.

    Each record's reference is the file's hash and its row number, so running the same file again skips what is
    already there; each batch commits on its own, so an interrupted run keeps its finished batches.
    """
    mapping = read_mapping(mapping_path)
    try:
        records = read_call_points(path)
    except CallFileError as error:
        raise InvalidInput(str(error)) from error
    for needed in (mapping.field, date_field):
        if needed not in records.fields:
            raise InvalidInput(f"{path.name} has no field {needed!r}; its fields: {', '.join(records.fields)}")
    zone = ZoneInfo(timezone or settings.timezone)
    file_key = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    report = ImportReport(records=len(records))
    with db.transaction(write=False) as session:
        catalogue = set(session.scalars(select(IncidentType.code)))
    unknown = sorted({code for code, _ in mapping.types.values()} - catalogue)
    if unknown:
        raise InvalidInput(f"the mapping names types that are not in the catalogue: {', '.join(unknown)}")

    for start in range(0, len(records), batch_size):
        rows = range(start, min(start + batch_size, len(records)))
        with db.transaction() as session:
            ctx = Ctx(session=session, settings=settings, actor=IMPORT_ACTOR)
            _import_batch(ctx, records, rows, mapping, date_field, source, zone, file_key, path.name, report)
        if on_batch is not None:
            on_batch(len(rows), len(records))
    return report


def _import_batch(
    ctx: Ctx,
    records: Any,
    rows: range,
    mapping: CallMapping,
    date_field: str,
    source: str,
    zone: ZoneInfo,
    file_key: str,
    file_name: str,
    report: ImportReport,
) -> None:
    repo = IncidentRepository(ctx.session, ctx.scope)
    refs = {i: f"{file_key}:{i}" for i in rows}
    present = repo.existing_refs(list(refs.values()))
    report.already_present += len(present)
    todo: list[tuple[int, str, int, datetime]] = []
    for i in rows:
        if refs[i] in present:
            continue
        value = records.fields[mapping.field][i]
        mapped = mapping.types.get(str(value).strip()) if value is not None else None
        day = _parse_day(records.fields[date_field][i])
        if mapped is None:
            report.skipped[f"unmapped {mapping.field} {value!r}"] += 1
        elif day is None:
            report.skipped[f"no date in {date_field}"] += 1
        else:
            todo.append((i, mapped[0], mapped[1], datetime.combine(day, time(0), zone)))
    if not todo:
        return
    index = np.array([t[0] for t in todo])
    lon, lat = records.lon[index], records.lat[index]
    org_ids, grid_ids = orgs.locate_many(ctx, lon, lat)
    codes = {o.id: o.code for o in orgs.list_orgs(ctx)}
    prefixes = [codes[int(o)] if o >= 0 else UNASSIGNED_PREFIX for o in org_ids]
    numbers = _numbers(ctx, prefixes, [called_at.date() for _, _, _, called_at in todo])
    now = ctx.now()
    incident_rows = []
    for n, (i, type_code, priority, called_at) in enumerate(todo):
        has_point = bool(np.isfinite(lon[n]))
        incident_rows.append(
            {
                "number": numbers[n],
                "source": source,
                "status": "closed",
                "type_code": type_code,
                "category_code": category_of(type_code),
                "priority": priority,
                "called_at": called_at,
                "taken_at": called_at,
                "lon": float(lon[n]) if has_point else None,
                "lat": float(lat[n]) if has_point else None,
                "cell": cell_of(float(lon[n]), float(lat[n])) if has_point else None,
                "narrative": "",
                "org_id": int(org_ids[n]) if org_ids[n] >= 0 else None,
                "grid_id": int(grid_ids[n]) if grid_ids[n] >= 0 else None,
                "external_ref": refs[i],
                "created_by": IMPORT_ACTOR,
            }
        )
        report.unassigned += int(org_ids[n] < 0)
    ids = ctx.session.scalars(
        insert(Incident).returning(Incident.id, sort_by_parameter_order=True), incident_rows
    ).all()
    ctx.session.execute(
        insert(IncidentEvent),
        [
            {
                "incident_id": incident_id,
                "dispatch_id": None,
                "kind": "imported",
                "at": now,
                "actor": IMPORT_ACTOR,
                "data": {"file": file_name, "row": i, mapping.field: records.fields[mapping.field][i]},
            }
            for incident_id, (i, _, _, _) in zip(ids, todo, strict=True)
        ],
    )
    report.imported += len(ids)


def _parse_day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _numbers(ctx: Ctx, prefixes: list[str], days: list[date]) -> list[str]:
    """Sequence numbers for a batch, continuing each (prefix, day) counter and saving where it ends."""
    keys = list(zip(prefixes, days, strict=True))
    counters = IncidentRepository(ctx.session, ctx.scope).counters(keys)
    last = {key: counter.last_value for key, counter in counters.items()}
    numbers = []
    for prefix, day in keys:
        last[(prefix, day)] = last.get((prefix, day), 0) + 1
        numbers.append(format_number(prefix, day, last[(prefix, day)]))
    for (prefix, day), value in last.items():
        counter = counters.get((prefix, day))
        if counter is None:
            ctx.session.add(IncidentCounter(prefix=prefix, day=day, last_value=value))
        else:
            counter.last_value = value
    ctx.session.flush()
    return numbers
