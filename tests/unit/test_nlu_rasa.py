"""RasaInterpreter over real HTTP against a local fake Rasa server."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from nlu.rasa import RasaInterpreter
from nlu.types import Entity, Parse, ParseContext
from tests.conftest import free_port, serve_in_thread

TEXT = "来两件红色的T恤"

RASA_ANSWER = {
    "text": TEXT,
    "intent": {"name": "add_to_cart", "confidence": 0.91},
    "intent_ranking": [
        {"name": "add_to_cart", "confidence": 0.91},
        {"name": "search_product", "confidence": 0.07},
        {"name": "inform", "confidence": 0.02},
    ],
    "entities": [
        {
            "entity": "quantity",
            "value": "2",
            "start": 1,
            "end": 3,
            "extractor": "DIETClassifier",
            "confidence_entity": 0.97,
            "processors": ["EntitySynonymMapper"],
        },
        {
            "entity": "color",
            "value": "red",
            "start": 3,
            "end": 5,
            "extractor": "DIETClassifier",
            "confidence_entity": 0.95,
            "role": "wanted",
            "group": "1",
        },
    ],
}


@dataclass
class FakeRasa:
    """A Rasa server stand-in; `mode` picks how /model/parse answers."""

    url: str = ""
    mode: str = "normal"  # normal | held | error | malformed
    answer: dict[str, Any] = field(default_factory=lambda: RASA_ANSWER)
    hits: list[str] = field(default_factory=list)
    # A held request is answered only once the test releases it: "slow" without a stopwatch.
    released: threading.Event = field(default_factory=threading.Event)

    async def parse(self, request: Request) -> Response:
        self.hits.append((await request.json())["text"])
        if self.mode == "held":
            await asyncio.to_thread(self.released.wait, 60)
        elif self.mode == "error":
            return PlainTextResponse("boom", status_code=500)
        elif self.mode == "malformed":
            return Response('{"intent": {"name": "gree', media_type="application/json")
        return JSONResponse(self.answer)


class FixedFallback:
    """A fallback interpreter that needs no training."""

    default_language = "en"

    def __init__(self) -> None:
        self.calls = 0

    def parse(self, text: str, context: ParseContext | None = None) -> Parse:
        self.calls += 1
        return Parse(intent="fallback_used", confidence=1.0, language="en")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    app = Starlette(routes=[Route("/model/parse", fake.parse, methods=["POST"])])
    with serve_in_thread(app, free_port()) as url:
        fake.url = url
        yield fake


@pytest.fixture
def rasa(server: FakeRasa) -> Iterator[FakeRasa]:
    server.mode, server.answer = "normal", RASA_ANSWER
    server.hits.clear()
    server.released.clear()
    yield server
    server.released.set()  # never leave a request hanging in the server


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def interpreter(url: str, **kw: Any) -> tuple[RasaInterpreter, FixedFallback]:
    """A generous timeout by default: an answering Rasa must never lose to a busy machine."""
    fallback = FixedFallback()
    kw.setdefault("timeout_s", 30)
    return RasaInterpreter(url, fallback, **kw), fallback


def wait_until(condition: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_rasa_answers_map_to_intent_ranking_entities_spans_and_language(rasa: FakeRasa) -> None:
    nlu, fallback = interpreter(rasa.url + "/")
    parse = nlu.parse(TEXT)
    assert rasa.hits == [TEXT] and fallback.calls == 0
    assert parse.intent == "add_to_cart" and parse.confidence == pytest.approx(0.91)
    assert parse.ranking == (("add_to_cart", 0.91), ("search_product", 0.07), ("inform", 0.02))
    assert parse.entities == (
        Entity("quantity", "2", 1, 3, "两件"),
        Entity("color", "red", 3, 5, "红色"),
    )
    assert parse.language == "zh" and parse.first("color") == "red"


def test_language_falls_back_to_the_fallback_interpreters_default(rasa: FakeRasa) -> None:
    rasa.answer = {"text": "123", "intent": {"name": "inform", "confidence": 0.8}}
    parse = interpreter(rasa.url)[0].parse("123")
    assert parse.language == "en"
    assert parse.ranking == (("inform", 0.8),) and parse.entities == ()


def test_non_string_entity_values_are_normalized_to_strings(rasa: FakeRasa) -> None:
    text = "3 items tomorrow"
    time_value = {"from": "2024-05-02T00:00:00", "to": None}
    rasa.answer = {
        "text": text,
        "intent": {"name": "inform", "confidence": 0.6},
        "entities": [
            {"entity": "quantity", "value": 3.0, "start": 0, "end": 1, "extractor": "Duckling"},
            {"entity": "number", "value": 3, "start": 0, "end": 1},
            {"entity": "price", "value": 12.5, "start": 0, "end": 1},
            {"entity": "time", "value": time_value, "start": 8, "end": 16},
            {"entity": "flag", "value": True, "start": 2, "end": 7},
        ],
    }
    entities = interpreter(rasa.url)[0].parse(text).entities
    assert [e.value for e in entities] == [
        "3",
        "3",
        "12.5",
        '{"from": "2024-05-02T00:00:00", "to": null}',
        "true",
    ]
    assert all(isinstance(e.value, str) for e in entities)
    assert entities[3].text == "tomorrow"


def test_a_rasa_that_does_not_answer_within_the_timeout_gets_the_fallback(rasa: FakeRasa) -> None:
    # given a Rasa that holds every request until the test lets it answer
    rasa.mode = "held"
    nlu, fallback = interpreter(rasa.url, timeout_s=0.2)
    # when a message is parsed, then the fallback answers: Rasa cannot have answered yet
    parse = nlu.parse(TEXT)
    assert parse.intent == "fallback_used" and fallback.calls == 1
    assert not rasa.released.is_set()
    wait_until(lambda: rasa.hits == [TEXT], "the request Rasa was asked")


def test_a_server_error_falls_back(rasa: FakeRasa) -> None:
    rasa.mode = "error"
    assert interpreter(rasa.url)[0].parse(TEXT).intent == "fallback_used"
    assert rasa.hits == [TEXT]


@pytest.mark.parametrize(
    "answer",
    [
        ["not", "an", "object"],
        {"intent": "add_to_cart"},
        {"intent": {"name": "x", "confidence": "high"}},
        {"intent": {"name": "x", "confidence": 0.5}, "entities": [{"entity": "color"}]},
        {"intent": {"name": "x", "confidence": 0.5}, "intent_ranking": ["x"]},
    ],
)
def test_a_malformed_answer_falls_back(rasa: FakeRasa, answer: Any) -> None:
    rasa.answer = answer
    assert interpreter(rasa.url)[0].parse(TEXT).intent == "fallback_used"


def test_invalid_json_falls_back(rasa: FakeRasa) -> None:
    rasa.mode = "malformed"
    assert interpreter(rasa.url)[0].parse(TEXT).intent == "fallback_used"


def test_a_server_that_is_down_falls_back() -> None:
    nlu, fallback = interpreter(f"http://127.0.0.1:{free_port()}")
    assert nlu.parse(TEXT).intent == "fallback_used" and fallback.calls == 1


def test_after_a_failure_rasa_is_skipped_for_the_window_then_tried_again(rasa: FakeRasa) -> None:
    clock = FakeClock()
    rasa.mode = "error"
    nlu, fallback = interpreter(rasa.url, retry_after_s=30, clock=clock)
    assert nlu.parse(TEXT).intent == "fallback_used"
    assert len(rasa.hits) == 1
    rasa.mode = "normal"
    for _ in range(4):
        assert nlu.parse(TEXT).intent == "fallback_used"
    clock.advance(29.5)
    assert nlu.parse(TEXT).intent == "fallback_used"
    assert len(rasa.hits) == 1, "Rasa was called while the breaker was open"
    clock.advance(0.5)  # the window has passed
    assert nlu.parse(TEXT).intent == "add_to_cart"
    assert nlu.parse(TEXT).intent == "add_to_cart"
    assert len(rasa.hits) == 3 and fallback.calls == 6


def test_a_parse_without_an_intent_defers_to_the_fallback_without_tripping(
    rasa: FakeRasa,
) -> None:
    rasa.answer = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
    nlu, _ = interpreter(rasa.url)
    assert nlu.parse("").intent == "fallback_used"
    rasa.answer = RASA_ANSWER
    assert nlu.parse(TEXT).intent == "add_to_cart" and len(rasa.hits) == 2


def test_failures_are_logged_without_the_customers_text(
    rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    rasa.mode = "error"
    with caplog.at_level(logging.WARNING, logger="nlu.rasa"):
        interpreter(rasa.url)[0].parse("我的手机号是13812345678")
    assert "500" in caplog.text and "fallback" in caplog.text
    assert "13812345678" not in caplog.text and "手机" not in caplog.text


def test_concurrent_parses_from_several_threads_all_get_answers(rasa: FakeRasa) -> None:
    nlu, _ = interpreter(rasa.url)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(nlu.parse(TEXT).intent)) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["add_to_cart"] * 8
