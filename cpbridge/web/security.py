"""Security headers for every response of the web link and the panel.

* a strict Content-Security-Policy: nothing inline, scripts, styles, fonts and
  images from this origin only, forms post back to this origin only;
* ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` — except the panel, whose
  routes set ``frame-ancestors`` to the origins configured for the system that
  launched it (:func:`frame_policy`); X-Frame-Options cannot name origins, so the
  panel sends none and relies on CSP (which every current browser honours);
* ``Referrer-Policy: no-referrer``, ``X-Content-Type-Options: nosniff``;
* ``Cache-Control: no-store`` on everything but the static files, so pages with
  personal data are never kept by the browser or a proxy.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Everything but frame-ancestors, which depends on the page.
BASE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'"
)
#: An origin as frame-ancestors takes it: scheme, host and optional port, nothing else.
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")


def frame_policy(origins: list[str] | tuple[str, ...]) -> str:
    """The CSP for a page that ``origins`` (valid ones only) may frame; none: 'none'."""
    allowed = [o.rstrip("/") for o in origins if _ORIGIN.match(o.rstrip("/"))]
    return f"{BASE_CSP}; frame-ancestors {' '.join(allowed) if allowed else chr(39) + 'none' + chr(39)}"


DENY_FRAMING = frame_policy([])


class SecurityHeaders:
    """ASGI middleware adding the headers above (a route's own CSP is kept)."""

    def __init__(self, app: ASGIApp, *, static_prefix: str = "/static"):
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith(scope.get("root_path", "") + self.static_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k.lower(), v) for k, v in message.get("headers", [])]
                names = {k for k, _ in headers}
                csp = next((v for k, v in headers if k == b"content-security-policy"), None)
                if csp is None:
                    csp = DENY_FRAMING.encode()
                    headers.append((b"content-security-policy", csp))
                if b"frame-ancestors 'none'" in csp and b"x-frame-options" not in names:
                    headers.append((b"x-frame-options", b"DENY"))
                headers.append((b"referrer-policy", b"no-referrer"))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"cross-origin-resource-policy", b"same-origin"))
                if not static:
                    headers = [(k, v) for k, v in headers if k not in (b"cache-control", b"pragma")]
                    headers.append((b"cache-control", b"no-store"))
                    headers.append((b"pragma", b"no-cache"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
