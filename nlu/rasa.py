"""An interpreter backed by a Rasa server's HTTP API, with the embedded one as a fallback.

Rasa is optional infrastructure: when it is slow, down or answers nonsense, the bot keeps
working on the fallback interpreter, and a small circuit breaker stops paying the timeout
on every message until Rasa has had time to come back.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from nlu.language import detect_language
from nlu.types import Entity, Interpreter, Parse, ParseContext

log = logging.getLogger(__name__)


class RasaResponseError(ValueError):
    """The Rasa server answered with a body that is not a `/model/parse` result."""


class RasaInterpreter:
    """Parses messages with a Rasa server (`rasa run --enable-api`), `POST /model/parse`.

    Args:
        url: Base URL of the Rasa server, e.g. ``http://127.0.0.1:5005``.
        fallback: Interpreter used whenever Rasa cannot answer.
        timeout_s: Timeout for each request; keep it short, a customer is waiting.
        retry_after_s: After a failure, how long to use only the fallback before trying
            Rasa again.
        client: An httpx client to reuse; one is created (and owned) when omitted.
        clock: Monotonic seconds for the retry window (tests pass one they can move).
    """

    def __init__(
        self,
        url: str,
        fallback: Interpreter,
        timeout_s: float = 0.5,
        retry_after_s: float = 30.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self.fallback = fallback
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.default_language: str = getattr(fallback, "default_language", "zh")
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._skip_until = 0.0  # clock time before which Rasa is not called
        self._failing = False

    def parse(self, text: str, context: ParseContext | None = None) -> Parse:
        """Parses one message with Rasa, or with the fallback when Rasa is unavailable.

        Args:
            text: The customer's message.
            context: Passed on to the fallback; Rasa's parse endpoint has no use for it.

        Returns:
            The parse; never raises because of Rasa.
        """
        with self._lock:
            if self._clock() < self._skip_until:
                return self.fallback.parse(text, context)
        try:
            response = self._client.post(
                f"{self.url}/model/parse", json={"text": text}, timeout=self.timeout_s
            )
            response.raise_for_status()
            parse = self._to_parse(text, response.json())
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, TypeError) as exc:
            self._trip(exc)
            return self.fallback.parse(text, context)
        with self._lock:
            if self._failing:
                self._failing = False
                log.info("Rasa NLU at %s is answering again", self.url)
        # Rasa has no intent for empty text; that is not an outage, the fallback decides.
        return parse if parse is not None else self.fallback.parse(text, context)

    def close(self) -> None:
        """Closes the HTTP client if this interpreter created it."""
        if self._owns_client:
            self._client.close()

    def _trip(self, exc: Exception) -> None:
        with self._lock:
            self._skip_until = self._clock() + self.retry_after_s
            self._failing = True
        # Only the error class and status: exception messages and bodies may echo the text.
        reason = type(exc).__name__
        if isinstance(exc, httpx.HTTPStatusError):
            reason += f" {exc.response.status_code}"
        log.warning(
            "Rasa NLU at %s failed (%s); using the fallback interpreter for %.1f s",
            self.url,
            reason,
            self.retry_after_s,
        )

    def _to_parse(self, text: str, body: Any) -> Parse | None:
        if not isinstance(body, dict):
            raise RasaResponseError("body is not an object")
        intent = body.get("intent")
        if intent is not None and not isinstance(intent, dict):
            raise RasaResponseError("intent is not an object")
        if not intent or not intent.get("name"):
            return None
        name, confidence = str(intent["name"]), float(intent.get("confidence") or 0.0)
        ranking = tuple(
            (str(r["name"]), float(r.get("confidence") or 0.0))
            for r in body.get("intent_ranking") or []
        )
        entities = tuple(_entity(text, e) for e in body.get("entities") or [])
        return Parse(
            intent=name,
            confidence=confidence,
            entities=entities,
            language=detect_language(text, self.default_language),
            ranking=ranking or ((name, confidence),),
        )


def _entity(text: str, raw: dict[str, Any]) -> Entity:
    start, end = int(raw["start"]), int(raw["end"])
    # Roles and groups have no place in our Entity; the type alone drives the dialogs.
    return Entity(
        str(raw["entity"]), _value(raw.get("value"), text[start:end]), start, end, text[start:end]
    )


def _value(value: Any, surface: str) -> str:
    """Rasa values may be numbers (duckling, regex synonyms) or dicts (duckling times)."""
    if value is None:
        return surface
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # duckling says 2.0 where we say "2"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
