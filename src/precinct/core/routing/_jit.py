"""A typed ``njit`` wrapper: compiled kernels are cached on disk when some cache folder is writable, and
compiled in memory otherwise (a read-only install), instead of failing at import."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def jit(func: F) -> F:
    """Compile ``func`` with ``numba.njit`` (cached when possible), keeping its Python signature for mypy."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaWarning)
            compiled = numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:
        # numba raises "no locator available" when neither the package folder nor a user cache is writable.
        compiled = numba.njit(cache=False, nogil=True)(func)
    return cast(F, compiled)
