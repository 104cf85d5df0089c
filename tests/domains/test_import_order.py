"""Statements built when a module is imported (the hot paths' own, built once) need every column's type then. A
foreign key's column that names no type takes it from the table it points to, which may not be imported yet: the
statement then fails to compile on its first use, a 500 on the first call taken."""

from __future__ import annotations

import subprocess
import sys

FIRST_IMPORT = """
from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql
from sqlalchemy.types import NullType

from precinct.domains.incidents import repository
from precinct.platform.context import EVERYTHING
from precinct.platform.db import Base

columns = [c for table in Base.metadata.tables.values() for c in table.columns]
untyped = [f"{c.table.name}.{c.name}" for c in columns if isinstance(c.type, NullType)]
assert not untyped, f"columns without a type: {untyped}"
now = datetime.now(UTC)
nearby = repository.Nearby("0102", now, now, lon=0.0, lat=0.0, m_per_deg_lon=1.0, m_per_deg_lat=1.0, radius_m=1.0,
                           exclude_id=0, limit=20)
repository._taking(claiming=True, nearby=nearby.query()[0], scope=EVERYTHING).compile(dialect=postgresql.dialect())
"""


def test_the_call_taking_statement_compiles_when_its_module_is_the_first_imported() -> None:
    done = subprocess.run([sys.executable, "-c", FIRST_IMPORT], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
