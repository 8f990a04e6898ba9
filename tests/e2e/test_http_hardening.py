"""What any visitor of the live server gets: security headers on every response, bodies capped
before they are read, validation errors that repeat nothing that was sent, and no public API
schema unless the merchant turns it on."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from bot.bootstrap import bootstrap
from bot.server import create_app
from store.models import ChannelIdentity, Message
from store.uow import UnitOfWork
from tests.conftest import free_port, serve_in_thread
from tests.e2e.conftest import WebChatCustomer, sample_shop_settings


def recorded(live_shop) -> tuple[int, int]:
    with UnitOfWork(live_shop.app.sessions) as uow:
        count = lambda model: uow.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        return count(Message), count(ChannelIdentity)


def pay_link(live_shop) -> str:
    customer = WebChatCustomer(live_shop.url)
    customer.send("hello")
    customer.send(payload="add?sku=TS-001-RED-M&qty=1")
    customer.send("checkout")
    for answer in ["Jane Doe", "+1 415 555 0132", "500 Market Street, San Francisco"]:
        customer.send(answer)
    return customer.send(payload="confirm")[0]["link"]["url"]


def assert_secure(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("no-referrer", "strict-origin-when-cross-origin")
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert "camera=()" in response.headers["permissions-policy"]


def test_every_kind_of_response_carries_the_security_headers(live_shop) -> None:
    customer = WebChatCustomer(live_shop.url)
    chat_api: list[httpx.Response] = []
    customer.http.event_hooks["response"].append(chat_api.append)
    customer.send("hi")
    http = httpx.Client(base_url=live_shop.url, timeout=10)
    responses = {
        "chat page": http.get("/"),
        "chat api": chat_api[-1],
        "health": http.get("/healthz"),
        "script": http.get("/static/chat.js"),
        "not found": http.get("/no/such/page"),
        "refused": http.post("/chat/api/messages", json={"client_id": ""}),
    }
    assert [r.status_code for r in responses.values()] == [200, 200, 200, 200, 404, 422]
    for response in responses.values():
        assert_secure(response)

    link = pay_link(live_shop)
    for page in (http.get(link), http.get("/pay/not-a-token"), http.post(link)):
        assert_secure(page)
        # the path holds the payment's secret: never sent on, never cached
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"


def test_the_sandbox_pay_page_has_no_inline_script_or_style_and_warns_it_is_a_test(
    live_shop,
) -> None:
    page = httpx.get(pay_link(live_shop), timeout=10)
    assert page.status_code == 200
    assert "<style" not in page.text and " style=" not in page.text
    assert "<script" not in page.text and "onclick" not in page.text
    assert 'id="test-banner"' in page.text
    assert "TEST PAYMENT — no money moves." in page.text
    assert "If you see this page in a real shop, do not continue." in page.text


def raw_request(url: str, head: str, body: bytes = b"") -> str:
    """Send a request by hand (so the client cannot trim or fix it); the answer's status line
    and headers, lower-cased."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = sock.makefile("rb")
        lines = iter(lambda: answer.readline().decode().strip(), "")
        return "\n".join(lines).lower()


def test_a_5mb_body_to_the_chat_api_is_refused_unread_and_nothing_is_recorded(live_shop) -> None:
    before = recorded(live_shop)
    # the length alone is enough: the server answers before a byte of the body arrives
    head = (
        "POST /chat/api/messages HTTP/1.1\nHost: shop\nContent-Type: application/json\n"
        "Content-Length: 5000000\nConnection: close\n"
    )
    answer = raw_request(live_shop.url, head)
    assert answer.startswith("http/1.1 413")
    assert "x-content-type-options: nosniff" in answer and "content-security-policy:" in answer
    assert recorded(live_shop) == before


def test_a_chunked_body_past_the_cap_is_refused_and_nothing_is_recorded(live_shop) -> None:
    before = recorded(live_shop)
    head = (
        "POST /chat/api/messages HTTP/1.1\nHost: shop\nContent-Type: application/json\n"
        "Transfer-Encoding: chunked\nConnection: close\n"
    )
    parts = [b'{"session": "hardening-0002", "client_id": "c2", "text": "'] + [b"a" * 16_000] * 8
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
    assert raw_request(live_shop.url, head, body).startswith("http/1.1 413")
    assert recorded(live_shop) == before


def test_a_body_that_is_not_utf8_gets_a_4xx_not_a_500(live_shop) -> None:
    response = httpx.post(
        live_shop.url + "/chat/api/messages",
        content=b"\xff\xfe\xfa not text \xc3\x28",
        headers={"content-type": "text/plain"},
        timeout=10,
    )
    assert 400 <= response.status_code < 500


def test_a_422_names_the_field_and_repeats_nothing_that_was_sent(live_shop, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Flat 5, 1 Harbour Road, phone 13800138000"
    bad_id = "c3!" * 30
    sent = {"client_id": bad_id, "text": secret, "<script>x</script>": 1}
    response = httpx.post(live_shop.url + "/chat/api/messages", json=sent, timeout=10)
    assert response.status_code == 422
    assert ["body", "client_id"] in [e["loc"] for e in response.json()["detail"]]
    for leaked in (secret, bad_id, "<script>", "13800138000"):
        assert leaked not in response.text
        assert leaked not in caplog.text


def test_the_telegram_webhook_keeps_its_own_larger_limit(live_shop) -> None:
    # 100 KB is over the default cap but a legal Telegram update size: no 413 here (404 only
    # because this shop has no Telegram channel)
    response = httpx.post(live_shop.url + "/webhooks/telegram", content=b"{" * 100_000, timeout=10)
    assert response.status_code == 404


def test_the_api_schema_and_docs_are_not_public_unless_enabled(
    live_shop, sample_db: Path, tmp_path: Path, interpreter
) -> None:
    for path in ("/openapi.json", "/docs"):
        assert httpx.get(live_shop.url + path, timeout=10).status_code == 404

    port = free_port()
    (tmp_path / "docs").mkdir()
    settings = sample_shop_settings(sample_db, tmp_path / "docs", port, api_docs=True)
    app = bootstrap(settings, interpreter)
    with serve_in_thread(create_app(app, run_scheduler=False), port) as url:
        schema = httpx.get(url + "/openapi.json", timeout=10)
        assert schema.status_code == 200 and "/chat/api/messages" in schema.json()["paths"]
        assert httpx.get(url + "/docs", timeout=10).status_code == 200
    app.engine.dispose()


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_the_api_docs_setting_reads_from_the_environment(monkeypatch, enabled: str) -> None:
    from bot.config import Settings

    monkeypatch.setenv("CHATSHOP_API_DOCS", enabled)
    assert Settings().api_docs is (enabled == "true")
