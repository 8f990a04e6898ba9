"""A wechatpy WeChatClient whose access_token is shared by every worker process via the database.

WeChat gives an Official Account one current access_token: fetching a new one supersedes the
previous, which stops working 5 minutes later. If each worker fetched its own, parallel refreshes
would keep invalidating each other's tokens (and burn the daily token quota). wechatpy 1.8 also
keeps the token's expiry in process memory only, so a second process that found the token in
shared storage would never refresh it. Hence this client:

- the token and its expiry live in the ``platform_tokens`` row ``wechat:<app_id>``, read on use;
- a refresh happens in one transaction that locks that row (PostgreSQL: SELECT ... FOR UPDATE;
  SQLite: every transaction is BEGIN IMMEDIATE) and re-reads it, so that of several processes
  finding the same token stale only the first fetches and the others take its token;
- 40001 / 40014 / 42001 refresh the token the failed request used and retry once; 45009
  raises APILimitedException (the caller backs off);
- every request, the token fetch included, goes to ``api_base_url`` (backup domains, fakes).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker
from wechatpy import WeChatClient
from wechatpy.exceptions import APILimitedException, WeChatClientException

from bot.logs import remember_secret
from store.models import PlatformToken, utcnow

log = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid, malformed, expired access_token
FREQUENCY_LIMIT = 45009
OFFICIAL = "https://api.weixin.qq.com/"  # what wechatpy's API classes hard-code


class WeChatApi(WeChatClient):
    def __init__(
        self,
        app_id: str,
        secret: str,
        api_base_url: str,
        sessions: sessionmaker[Session],
        *,
        timeout_s: float = 10.0,
        refresh_margin_s: float = 300.0,
    ) -> None:
        # auto_retry off: wechatpy's retry re-fetches unconditionally (and without bound).
        super().__init__(app_id, secret, timeout=timeout_s, auto_retry=False)
        self._base = api_base_url.rstrip("/")
        self.API_BASE_URL = f"{self._base}/cgi-bin/"
        self._sessions = sessions
        self._key = f"wechat:{app_id}"
        self._margin = timedelta(seconds=refresh_margin_s)
        self._refreshing = threading.Lock()  # threads of one process queue here, not in the DB
        self._cached: PlatformToken | None = None

    @property
    def access_token(self) -> str:
        # Kept in memory too: a token another process replaced stays valid for 5 minutes, and
        # a 40001 on it takes that process's token (see _request), so the database is read
        # only when ours runs out.
        cached = self._cached
        if cached is not None and self._fresh(cached):
            return cached.token
        with self._sessions() as session:
            row = session.get(PlatformToken, self._key)
            if row and self._fresh(row):
                self._cached = row
                remember_secret(row.token)
                return row.token
        return self._refresh(stale=row.token if row else "")

    def fetch_access_token(self) -> dict[str, Any]:
        """Replace the stored token (unless another caller just did), as wechatpy's does."""
        with self._sessions() as session:
            row = session.get(PlatformToken, self._key)
            stale = row.token if row else ""
        return {"access_token": self._refresh(stale=stale)}

    def _refresh(self, stale: str) -> str:
        """A fresh token: the one another thread or process stored after `stale`, else a new one."""
        with self._refreshing, self._sessions() as session, session.begin():
            row = self._lock_row(session)
            if row.token != stale and self._fresh(row):
                self._cached = row
                remember_secret(row.token)
                return row.token  # another thread or process refreshed while we waited
            # Fetched while holding the row lock, so nobody else fetches; a failure rolls back.
            row.token, expires_in = self._fetch_token()
            remember_secret(row.token)  # masked wherever a log line would print it
            row.expires_at = utcnow() + timedelta(seconds=expires_in)
            log.info("new WeChat access token for %s, valid %ss", self.appid, expires_in)
        self._cached = row
        return row.token

    def _fresh(self, row: PlatformToken) -> bool:
        return (
            bool(row.token)
            and row.expires_at is not None
            and (row.expires_at - utcnow() > self._margin)
        )

    def _lock_row(self, session: Session) -> PlatformToken:
        # Insert-if-missing first: SELECT ... FOR UPDATE cannot lock a row that does not exist,
        # and ON CONFLICT DO NOTHING waits out (rather than fails on) a concurrent insert.
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(PlatformToken).values(key=self._key, token="", expires_at=None)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        query = select(PlatformToken).where(PlatformToken.key == self._key).with_for_update()
        return session.scalars(query).one()

    def _fetch_token(self) -> tuple[str, int]:
        # Not wechatpy's _fetch_access_token: its URL is hard-coded and it writes to self.session.
        # Errors never carry the URL (its query holds the secret) or the token.
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        url = f"{self._base}/cgi-bin/token"
        try:
            res = self._http.get(url, params=params, timeout=self.timeout)
            res.raise_for_status()
            result = res.json()
        except requests.HTTPError as e:
            status = e.response.status_code if e.response is not None else "?"
            raise WeChatClientException(None, f"token fetch: HTTP {status}", client=self) from None
        except (requests.RequestException, ValueError) as e:
            message = f"token fetch from {self._base} failed: {type(e).__name__}"
            raise WeChatClientException(None, message, client=self) from None
        errcode = int(result.get("errcode") or 0) if isinstance(result, dict) else -1
        if errcode or not isinstance(result, dict) or not result.get("access_token"):
            kind = APILimitedException if errcode == FREQUENCY_LIMIT else WeChatClientException
            errmsg = result.get("errmsg", "no access_token") if isinstance(result, dict) else ""
            raise kind(errcode or None, f"token fetch refused: {errmsg}", client=self)
        return str(result["access_token"]), int(result.get("expires_in") or 7200)

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        url_or_endpoint = self._rebase(url_or_endpoint)
        if "api_base_url" in kwargs:
            kwargs["api_base_url"] = self._rebase(kwargs["api_base_url"])
        params = kwargs.setdefault("params", {})
        if not isinstance(params, dict):  # wechatpy then adds no token either
            return super()._request(method, url_or_endpoint, **kwargs)
        if "access_token" not in params:
            params["access_token"] = self.access_token
        used = params["access_token"]
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except WeChatClientException as e:
            if e.errcode not in TOKEN_ERRORS:
                raise
        # Refresh the token this request used: if another process already replaced it, its
        # replacement is taken instead of superseding it in turn. Then retry once.
        params["access_token"] = self._refresh(stale=used)
        for file in (kwargs.get("files") or {}).values():
            if hasattr(file, "seek"):
                file.seek(0)  # an upload's file was read by the first attempt
        return super()._request(method, url_or_endpoint, **kwargs)

    def _rebase(self, url: str) -> str:
        return f"{self._base}/{url.removeprefix(OFFICIAL)}" if url.startswith(OFFICIAL) else url
