"""Telegram at its edges, through real HTTP: malformed updates (by webhook and by polling), and a
Bot API server that fails optional calls or does not long-poll."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from bot.channels import sequencer
from store.models import Message
from tests.e2e.test_telegram import SECRET, TelegramShop, post_update, telegram_shop
from tests.fakes.telegram import FakeTelegram

PERSONAL = "Zhang Wei 13800138000"  # must never reach a log, whatever the update looks like


@pytest.fixture
def polling_shop(sample_db, tmp_path, interpreter) -> Iterator[TelegramShop]:
    with telegram_shop(sample_db, tmp_path, interpreter, webhook=False) as shop:
        yield shop


@pytest.fixture
def webhook_shop(sample_db, tmp_path, interpreter) -> Iterator[TelegramShop]:
    with telegram_shop(sample_db, tmp_path, interpreter, webhook=True) as shop:
        yield shop


def spoil(update: dict, path: str, value: object) -> dict:
    """`update` with the field at dotted `path` set to `value`."""
    spoiled = copy.deepcopy(update)
    *parents, name = path.split(".")
    target = spoiled
    for key in parents:
        target = target[key]
    target[name] = value
    return spoiled


SPOILED = [
    ("update_id", "700123"),
    ("update_id", 1.5),
    ("update_id", 2**40),
    ("update_id", True),
    ("message", "hello"),
    ("message.chat", [42]),
    ("message.chat.id", "42"),
    ("message.chat.id", 2**60),
    ("message.from", "Li"),
    ("message.from.id", None),
    ("message.text", 5),
    ("message.text", "x" * 5000),
    ("message.text", f"{PERSONAL}\x00"),
    ("message.photo", "big.jpg"),
    ("message.photo", [{"file_id": 1}]),
    ("message.contact", {"phone_number": 13800138000}),
    ("message.message_id", -1),
]


def test_malformed_webhook_updates_are_acknowledged_and_change_nothing(
    webhook_shop: TelegramShop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = webhook_shop.fake.user(2101, "Li", "zh-hans")
    good = user.send_text(PERSONAL, deliver=False)
    press = {
        "update_id": good["update_id"],
        "callback_query": {"id": "q1", "from": good["message"]["from"], "data": "é" * 33},
    }
    bodies = [spoil(good, path, value) for path, value in SPOILED] + [press]

    answers = [post_update(webhook_shop, body).status_code for body in bodies]

    # Telegram redelivers anything but a 2xx: what can never be read is acknowledged and dropped
    assert answers == [200] * len(bodies)
    assert webhook_shop.count(Message) == 0
    assert user.messages == []
    ignored = [r for r in caplog.records if "ignored: malformed" in r.getMessage()]
    assert len(ignored) == len(bodies)
    assert PERSONAL not in caplog.text and "13800138000" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]  # no traceback, no 500


def test_a_body_that_is_no_update_at_all_is_refused_and_changes_nothing(
    webhook_shop: TelegramShop,
) -> None:
    url = f"{webhook_shop.url}/webhooks/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    nested = b'{"update_id": 5, "message": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    for body in (nested, b"\xff{", b"null", b'"text"', b"[]"):
        assert httpx.post(url, content=body, headers=headers, timeout=30).status_code == 400
    # shaped like an update, with a lone surrogate no Telegram client can send: dropped
    chat = '{"id": 2105, "type": "private"}'
    surrogate = (
        f'{{"update_id": 5, "message": {{"message_id": 1, "chat": {chat}, "text": "\\ud800"}}}}'
    )
    assert httpx.post(url, content=surrogate, headers=headers, timeout=30).status_code == 200
    assert webhook_shop.count(Message) == 0


def test_a_poisoned_update_id_never_breaks_the_updates_after_it(
    webhook_shop: TelegramShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the sequencer forgets old ids after 20,000 updates; make that happen after a few
    monkeypatch.setattr(sequencer, "SEEN_IDS", 2)
    user = webhook_shop.fake.user(2102, "Alice", "en")
    assert post_update(webhook_shop, user.send_text("hello", deliver=False)).status_code == 200
    poisoned = user.send_text("red t-shirt", deliver=False)
    poisoned["update_id"] = str(poisoned["update_id"])
    assert post_update(webhook_shop, poisoned).status_code == 200

    later = ["/help", "/cart", "hello", "/orders", "/help", "running shoes"]
    answers = [post_update(webhook_shop, user.send_text(t, deliver=False)) for t in later]

    assert [a.status_code for a in answers] == [200] * len(later)
    assert webhook_shop.count(Message, Message.direction == "in") == 1 + len(later)
    user.wait_for("what I can do")


def test_a_malformed_update_in_a_polled_batch_is_skipped_and_the_rest_answered(
    polling_shop: TelegramShop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake = polling_shop.fake
    user = fake.user(2103, "Alice", "en")
    fake.push_raw_update({"message": {"message_id": 1, "chat": "private", "text": PERSONAL}})
    user.send_text("/help")
    user.wait_for("what I can do")
    fake.wait_idle()  # both confirmed: the bad one is not asked for again and again
    assert polling_shop.count(Message, Message.direction == "in") == 1
    assert PERSONAL not in caplog.text
    assert len([r for r in caplog.records if "ignored: malformed" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    ("method", "error"),
    [("setMyCommands", "502"), ("setMyCommands", "404"), ("deleteWebhook", "404")],
)
def test_the_shop_answers_when_the_server_keeps_failing_an_optional_call(
    sample_db, tmp_path, interpreter, method, error
) -> None:
    # a flaky server, or an emulator without the method (404, which PTB reads as a bad token)
    def always_fails(fake: FakeTelegram) -> None:
        fake.fail_next(method, error, times=1_000)

    with telegram_shop(
        sample_db, tmp_path, interpreter, webhook=False, before_start=always_fails
    ) as shop:
        user = shop.fake.user(2104, "Alice", "en")
        user.send_text("/help")
        user.wait_for("what I can do")
        assert shop.fake.calls_to(method)[0].status == int(error)


def test_a_malformed_body_is_logged_in_one_line_without_its_content(
    webhook_shop: TelegramShop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"update_id": 700_999, "message": {"message_id": 3, "chat": {"id": "x"}}}
    body["message"]["text"] = PERSONAL
    assert post_update(webhook_shop, json.loads(json.dumps(body))).status_code == 200
    [line] = [r.getMessage() for r in caplog.records if "ignored: malformed" in r.getMessage()]
    assert "700999" in line and "message.chat.id" in line and PERSONAL not in line
