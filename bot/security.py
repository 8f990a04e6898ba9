"""HTTP hardening shared by every route: security headers on every response, a body size cap,
and validation errors that never echo what was sent.

Headers come from the `secure` package (its ASGI middleware sets them on every response,
404s and redirects included). Pay pages get a stricter set: their URLs carry the payment's
secret token, so they send no referrer and are never cached.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from secure import (
    CacheControl,
    ContentSecurityPolicy,
    CrossOriginOpenerPolicy,
    PermissionsPolicy,
    ReferrerPolicy,
    Secure,
    StrictTransportSecurity,
    XContentTypeOptions,
    XFrameOptions,
    XPermittedCrossDomainPolicies,
)
from secure.middleware import SecureASGIMiddleware

log = logging.getLogger(__name__)

# Every request body is capped (FastAPI refuses a larger Content-Length with 413 before reading
# and stops reading a chunked body past it); routes that need more say so where they are mounted.
MAX_BODY = 64 * 1024

PAY_PATHS = "/pay/"
DOCS_PATHS = ("/docs", "/redoc")
SELF, NONE = "'self'", "'none'"
# FastAPI's /docs page (only with CHATSHOP_API_DOCS=true) loads Swagger UI from its CDN and
# starts it with an inline script.
SWAGGER_CDN = "https://cdn.jsdelivr.net"


def page_policy() -> ContentSecurityPolicy:
    """Our own scripts, styles and requests only; product images may be remote (https)."""
    return (
        ContentSecurityPolicy()
        .default_src(SELF)
        .img_src(SELF, "https:")
        .object_src(NONE)
        .base_uri(NONE)
        .form_action(SELF)
        .frame_ancestors(NONE)
    )


def docs_policy() -> ContentSecurityPolicy:
    return (
        page_policy()
        .script_src(SELF, SWAGGER_CDN, "'unsafe-inline'")
        .style_src(SELF, SWAGGER_CDN)
        .img_src(SELF, "https:", "data:")
    )


def _headers(
    csp: ContentSecurityPolicy, referrer: ReferrerPolicy, https: bool, no_store: bool = False
) -> Secure:
    return Secure(
        csp=csp,
        xfo=XFrameOptions().deny(),
        xcto=XContentTypeOptions(),
        referrer=referrer,
        coop=CrossOriginOpenerPolicy().same_origin(),
        permissions=PermissionsPolicy().camera().microphone().geolocation().payment().usb(),
        xpcdp=XPermittedCrossDomainPolicies().none(),
        # HSTS only where the shop is served over HTTPS, for that host alone: its other
        # subdomains are not ours to decide for.
        hsts=StrictTransportSecurity().max_age(31536000) if https else None,
        cache=CacheControl().no_store() if no_store else None,
    )


class SecurityHeaders:
    """Pure ASGI: picks the header set by path and lets `secure` apply it."""

    def __init__(self, app: Any, https: bool) -> None:
        # Same-origin requests keep their referrer (and a meaningful Origin on POSTs);
        # other sites see at most our origin, never a path.
        site = ReferrerPolicy().strict_origin_when_cross_origin()
        self.default = SecureASGIMiddleware(app, secure=_headers(page_policy(), site, https))
        self.pay = SecureASGIMiddleware(
            app, secure=_headers(page_policy(), ReferrerPolicy().no_referrer(), https, True)
        )
        self.docs = SecureASGIMiddleware(app, secure=_headers(docs_policy(), site, https))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(PAY_PATHS):
            await self.pay(scope, receive, send)
        elif path.startswith(DOCS_PATHS):
            await self.docs(scope, receive, send)
        else:
            await self.default(scope, receive, send)


class HardenedAPI(FastAPI):
    """FastAPI with the security headers around its whole stack, so that the answers it gives
    outside the routes (a 500, a 413 sent before a body is read) carry them too."""

    https = False  # set from the public URL: HSTS only for a shop served over HTTPS

    def build_middleware_stack(self) -> Any:
        return SecurityHeaders(super().build_middleware_stack(), https=self.https)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming the fields that are wrong, and nothing of what was sent: FastAPI's default
    echoes the whole input (and fails with a 500 decoding a body that is not UTF-8)."""
    errors = exc.errors()
    detail = [
        {
            "loc": [_field(part) for part in error.get("loc", ())][:6],
            "msg": str(error.get("msg", "invalid"))[:200],
            "type": str(error.get("type", ""))[:64],
        }
        for error in errors[:10]
    ]
    route = getattr(request.scope.get("route"), "path", "?")  # the template: no tokens, no ids
    first = ".".join(str(part) for part in detail[0]["loc"]) if detail else "-"
    log.info(
        "refused %s %s: %d invalid field(s), first %s", request.method, route, len(errors), first
    )
    return JSONResponse({"detail": detail}, status_code=422)


def _field(part: object) -> str | int:
    """A field name or list index; a key that came from the request (extra fields) is input,
    so it is not repeated."""
    if isinstance(part, int) or (isinstance(part, str) and _NAME.fullmatch(part)):
        return part
    return "?"


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")
