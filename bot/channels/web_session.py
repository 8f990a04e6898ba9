"""Web chat sessions are issued by the server, never chosen by the client: 192 random bits in
an HttpOnly, SameSite cookie, signed (itsdangerous) so that an id a client invents or guesses
is refused without a database lookup. Whoever holds the session reads its transcript, so it
must be as hard to guess as a password and out of reach of page scripts."""

from __future__ import annotations

import re
import secrets

from itsdangerous import BadSignature, Signer
from starlette.responses import Response

COOKIE = "chatshop_session"
MAX_AGE_S = 180 * 24 * 3600  # a returning customer finds their chat for half a year
_ID = re.compile(r"[A-Za-z0-9_-]{32}")


class WebSessions:
    def __init__(self, secret: bytes, secure: bool) -> None:
        self._signer = Signer(secret, salt="chatshop.web-session")
        self._secure = secure  # https only when the shop is served over https

    def issue(self) -> tuple[str, str]:
        """A new session: its id and the cookie value that carries it."""
        session = secrets.token_urlsafe(24)  # 32 characters
        return session, self._signer.sign(session).decode()

    def read(self, cookie: str | None) -> str | None:
        """The session id in a cookie we issued, or None (missing, forged, malformed)."""
        if not cookie or len(cookie) > 200:
            return None
        try:
            session = self._signer.unsign(cookie).decode()
        except (BadSignature, UnicodeError):
            return None
        return session if _ID.fullmatch(session) else None

    def set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            COOKIE,
            value,
            max_age=MAX_AGE_S,
            path="/",
            secure=self._secure,
            httponly=True,
            samesite="lax",
        )
