"""The exception tree every layer raises and the web shell renders: each error carries its HTTP status and a
stable ``code``, and its message says what was wrong and what to do.

PrecinctError
├── Unauthorized (401)      no valid session or token (or a refused sign-in)
├── Forbidden (403)         signed in, but not allowed (a missing CSRF token, …)
├── InvalidInput (422)      a request that is well-formed but breaks a rule
├── NotFound (404)          no such record (or none the caller may see)
├── Conflict (409)          the request clashes with the current state
│   └── IllegalTransition   a state machine step that is not allowed now
├── PayloadTooLarge (413)
└── TooManyRequests (429)   a limit on attempts (sign-in from one address)
"""

from __future__ import annotations

from typing import Any


class PrecinctError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            **({"details": self.details} if self.details else {}),
        }


class Unauthorized(PrecinctError):
    status_code = 401
    code = "unauthorized"


class Forbidden(PrecinctError):
    status_code = 403
    code = "forbidden"


class InvalidInput(PrecinctError):
    status_code = 422
    code = "invalid_input"


class NotFound(PrecinctError):
    status_code = 404
    code = "not_found"


class Conflict(PrecinctError):
    status_code = 409
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class PayloadTooLarge(PrecinctError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(PrecinctError):
    status_code = 429
    code = "too_many_requests"
