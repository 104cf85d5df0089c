"""The base of every request body: unknown fields refused, text trimmed, and no NUL characters (PostgreSQL cannot
store them, so they are refused at the edge rather than failing deep inside)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

# Ids as the database stores them: 32-bit for small tables, 64-bit for incidents and their orders and events.
SMALL_ID_MAX = 2**31 - 1
BIG_ID_MAX = 2**63 - 1
SmallId = Annotated[int, Field(ge=1, le=SMALL_ID_MAX)]
BigId = Annotated[int, Field(ge=1, le=BIG_ID_MAX)]
SmallIdPath = Annotated[int, Path(ge=1, le=SMALL_ID_MAX)]
BigIdPath = Annotated[int, Path(ge=1, le=BIG_ID_MAX)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _no_nul(self) -> Any:
        for name, value in self:
            if _has_nul(value):
                raise ValueError(f"{name} contains a NUL character")
        return self


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False
