"""Security headers on every HTTP response: what a browser may load and run on precinct's pages (only precinct's
own files: no CDN, no inline script), that no other site may frame them, and that API answers, which may carry
personal data, are not kept in caches."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # MapLibre and ECharts set element styles
        "img-src 'self' data: blob:",
        "worker-src 'self' blob:",  # MapLibre runs its workers from blob: URLs
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# The OpenAPI page (Swagger UI) starts itself with one inline script.
_DOCS_POLICY = _PAGE_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"geolocation=(self), camera=(), microphone=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000")
# Built once: the headers of a page or API answer, and of the OpenAPI page.
_HEADERS = [*_ALWAYS, (b"content-security-policy", _PAGE_POLICY.encode())]
_DOCS_HEADERS = [*_ALWAYS, (b"content-security-policy", _DOCS_POLICY.encode())]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = _DOCS_HEADERS if path == "/docs" else _HEADERS
        if scope.get("scheme") == "https":
            extra = [*extra, _HSTS]
        api = path.startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if api and not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*headers, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
