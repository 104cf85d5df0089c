"""Road speeds: the per-class default table (``road_speeds.csv``, replaceable by the user) and the parser for
OpenStreetMap ``maxspeed`` values ("50", "30 mph", "PT:urban", "50; 40")."""

from __future__ import annotations

import csv
import hashlib
import importlib.resources
import math
import re
from dataclasses import dataclass
from pathlib import Path

from precinct.core.routing.errors import RoutingError

_KMH_PER_MPH = 1.609344
_KMH_PER_KNOT = 1.852
# A posted limit outside this range is a tagging error, not a speed to drive at.
_MIN_PLAUSIBLE_KMH = 5.0
_MAX_PLAUSIBLE_KMH = 200.0
_NUMBER_WITH_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|knots|km/h|kmh|kph)?\s*$", re.IGNORECASE)
DEFAULT_CLASS = "default"


@dataclass(frozen=True)
class SpeedTable:
    """Default driving speed per OSM ``highway`` class, used where a road has no usable ``maxspeed``.

    Attributes
    ----------
    speed_kmh_by_highway : dict[str, float]
        Speed per road class; the row named ``default`` is used for classes the table does not list.
    source : str
        Where the table was read from (for reports).
    digest : str
        SHA-256 of the table's content, part of the graph cache key.
    """

    speed_kmh_by_highway: dict[str, float]
    source: str
    digest: str

    @classmethod
    def from_csv(cls, path: str | Path) -> SpeedTable:
        """Read a table with the columns ``highway,speed_kmh`` (lines starting with ``#`` are ignored).

        Parameters
        ----------
        path : str or Path
            The CSV file.

        Returns
        -------
        SpeedTable

        Raises
        ------
        RoutingError
            If the file is missing, lacks the columns, or has a speed that is not a positive number.
        """
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise RoutingError(f"cannot read the speed table {file}: {exc.strerror or exc}") from exc
        return cls.from_text(text, source=str(file))

    @classmethod
    def from_text(cls, text: str, *, source: str = "<text>") -> SpeedTable:
        """Parse the CSV content of a speed table (see :meth:`from_csv`)."""
        lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        reader = csv.DictReader(lines)
        if reader.fieldnames is None or not {"highway", "speed_kmh"} <= set(reader.fieldnames):
            raise RoutingError(f"speed table {source} must have the columns highway,speed_kmh")
        speeds: dict[str, float] = {}
        for row_number, row in enumerate(reader, start=2):
            highway = (row["highway"] or "").strip()
            try:
                speed_kmh = float(row["speed_kmh"])
            except (TypeError, ValueError):
                speed_kmh = math.nan
            if not highway or not math.isfinite(speed_kmh) or speed_kmh <= 0:
                raise RoutingError(
                    f"speed table {source}, row {row_number}: expected a road class and a positive speed in "
                    f"km/h, got {row['highway']!r}, {row['speed_kmh']!r}"
                )
            speeds[highway] = speed_kmh
        if DEFAULT_CLASS not in speeds:
            raise RoutingError(f"speed table {source} needs a '{DEFAULT_CLASS}' row for unlisted road classes")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return cls(speed_kmh_by_highway=speeds, source=source, digest=digest)

    @classmethod
    def default(cls) -> SpeedTable:
        """The table shipped with precinct (``precinct/data/road_speeds.csv``, urban defaults)."""
        resource = importlib.resources.files("precinct.data").joinpath("road_speeds.csv")
        return cls.from_text(resource.read_text(encoding="utf-8"), source="precinct.data/road_speeds.csv")

    def speed_for_class_kmh(self, highway: str) -> float:
        """Default speed of a road class; for "a;b" the first class counts, unknown classes get ``default``."""
        first = highway.split(";")[0].strip()
        return self.speed_kmh_by_highway.get(first, self.speed_kmh_by_highway[DEFAULT_CLASS])


def parse_maxspeed_kmh(value: object) -> float | None:
    """Read an OSM ``maxspeed`` value as km/h, or ``None`` when it gives no usable number.

    Several values ("50; 40") give the lowest, so an ETA never assumes the faster one. Zone codes
    ("PT:urban", "RU:rural"), "none", "walk" and implausible numbers give ``None``: the road class
    default applies.

    Parameters
    ----------
    value : object
        The raw tag value (a string, a number, or missing).

    Returns
    -------
    float or None
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    speeds: list[float] = []
    for part in str(value).split(";"):
        match = _NUMBER_WITH_UNIT.match(part)
        if match is None:
            continue
        number = float(match.group(1))
        unit = (match.group(2) or "").lower()
        if unit == "mph":
            number *= _KMH_PER_MPH
        elif unit == "knots":
            number *= _KMH_PER_KNOT
        if _MIN_PLAUSIBLE_KMH <= number <= _MAX_PLAUSIBLE_KMH:
            speeds.append(number)
    return min(speeds) if speeds else None
