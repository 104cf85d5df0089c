"""What one run of the simulator is told (the server, the data, how fast history goes) and what it counts."""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

# Every request says who acted: the timeline shows these steps as the simulator's.
ACTOR = "system:simulator"  # the identity its token belongs to: what the server records as the actor
PORTLAND_TIMEZONE = "America/Los_Angeles"
DEFAULT_START = "2016-08-15T16:00"  # a Monday, 4 pm: a busy hour of the day (see calls.HOURLY_SHARE)


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]


def parse_start(text: str, timezone: str = PORTLAND_TIMEZONE) -> datetime:
    """An ISO time such as ``2016-08-15T16:00``; without an offset it is read in the data's zone."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(timezone))


@dataclass(frozen=True)
class SimulatorOptions:
    """One run's settings. Times called historical pass ``speed`` times faster than the wall clock.

    Attributes
    ----------
    url : str
        The server's base URL, e.g. ``http://127.0.0.1:8000``.
    token : str
        A bearer token of the identity ``system:simulator`` acting as a dispatcher (``precinct users token add
        --system simulator --org PDX --role dispatcher``).
    roads_path, calls_path : Path
        The OpenStreetMap extract the server routes on, and the historical calls to replay.
    mapping_path : Path or None
        The CSV mapping the calls' categories to catalogue types; the packaged Portland file when None.
    speed : float
        Historical seconds per wall second: call spacing, think time, time on scene and closing all shrink by it.
    start : datetime
        The historical moment the replay starts from (timezone-aware).
    dispatch_after_s : float
        Wall seconds an incident may wait unassigned before the simulated dispatcher sends a unit; 0 = never.
    leave : frozenset of str
        Call signs of units the simulator never moves nor answers (people drive them from the terminal page).
    seed : int
        Seeds every random choice (call times within a day, patrol routes, think times, outcomes).
    duration_s : float or None
        Stop after this many wall seconds; run until stopped when None.
    position_interval_s : float
        Wall seconds between two position reports of one moving unit.
    drive_speedup : float
        How much faster than road speed units drive (1 in the demo: response times stay realistic).
    run_id : str
        Names this run in the calls' idempotency keys (``sim-<run id>-<record index>``).
    date_field, description_field, data_timezone : str
        The calls' date field, the field whose text becomes the narrative, and the zone their dates are in.
    """

    url: str = "http://127.0.0.1:8000"
    token: str = field(default="", repr=False)  # a bearer token of system:simulator, acting as a dispatcher
    roads_path: Path = Path("../shared/data/osm/portland-central-filtered.osm.pbf")
    calls_path: Path = Path("../shared/data/portland/080116_083116_Data.zip")
    mapping_path: Path | None = None
    cache_dir: Path = Path("var/cache")
    speed: float = 10.0
    start: datetime = field(default_factory=lambda: parse_start(DEFAULT_START))
    dispatch_after_s: float = 45.0
    leave: frozenset[str] = frozenset()
    seed: int = 1
    duration_s: float | None = None
    position_interval_s: float = 3.0
    drive_speedup: float = 1.0
    run_id: str = field(default_factory=new_run_id)
    date_field: str = "occ_date"
    description_field: str | None = "CASE_DESC"
    data_timezone: str = PORTLAND_TIMEZONE
    health_timeout_s: float = 60.0
    patrol_radius_m: float = 2000.0
    snap_max_distance_m: float = 500.0

    def __post_init__(self) -> None:
        if self.speed <= 0 or self.drive_speedup <= 0 or self.position_interval_s <= 0:
            raise ValueError("speed, drive speed-up and position interval must be positive")
        if self.dispatch_after_s < 0:
            raise ValueError("dispatch-after must be 0 (never) or a positive number of seconds")
        if self.start.tzinfo is None:
            raise ValueError("the start time needs a time zone")
        if not re.fullmatch(r"[A-Za-z0-9._-]{3,64}", self.run_id):
            raise ValueError("the run id needs 3 to 64 letters, digits, '.', '_' or '-'")

    def wall_s(self, historical_s: float) -> float:
        """Wall seconds that ``historical_s`` historical seconds take at this run's speed."""
        return historical_s / self.speed

    def between(self, rng: random.Random, low_s: float, high_s: float) -> float:
        """A random historical duration between ``low_s`` and ``high_s``, in wall seconds."""
        return self.wall_s(rng.uniform(low_s, high_s))


@dataclass
class Stats:
    """What a run did, for the summary at the end and for tests."""

    positions_reported: int = 0
    calls_replayed: int = 0
    orders_acknowledged: int = 0
    orders_cleared: int = 0
    incidents_dispatched: int = 0
    incidents_closed: int = 0
    http_errors: int = 0

    def line(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in vars(self).items())
