"""The API shapes of signing in and out and of who is signed in. A password goes in and never comes out."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from precinct.domains.identity.credentials import MAX_PASSWORD_CHARS
from precinct.platform.schemas import RequestModel

# Spaces are part of a password: it is taken exactly as typed (the model trims every other text).
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_PASSWORD_CHARS)]


class SignIn(RequestModel):
    login: str = Field(min_length=1, max_length=64)
    password: Password


class Me(BaseModel):
    """Who the session or token belongs to."""

    id: int
    kind: str = Field(description="staff, device, system or public")
    login: str
    display_name: str
    role: str | None = Field(description="Staff only")
    org_id: int | None
    org_code: str | None
    unit_id: int | None = Field(description="Devices only: the unit whose terminal this is")


class SignedIn(Me):
    csrf_token: str = Field(
        description="Send it back as the X-CSRF-Token header on every POST, PUT, PATCH and DELETE made with the "
        "session cookie (it is also in the readable precinct_csrf cookie)"
    )


class SignedOut(BaseModel):
    ended: bool = Field(description="Whether a session was ended (false: there was none)")
