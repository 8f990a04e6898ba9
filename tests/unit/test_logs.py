"""The logging set-up: what a merchant's log shows, and what it never shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from telegram.error import BadRequest

from bot import logs
from bot.config import Settings

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
APP_SECRET = "s3cr3t/with+signs&more"  # not shaped like anything: only configuration knows it
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
URL = f"https://api.telegram.org/bot{TOKEN}/sendMessage"


@pytest.fixture
def log() -> Iterator:
    settings = Settings(
        log_level="DEBUG",
        telegram_bot_token=TOKEN,
        wechat_app_id="wx1",
        wechat_app_secret=APP_SECRET,
        wechat_token="shoptoken",
        wechat_aes_key=AES_KEY,
    )
    with logs.captured(settings) as out:
        yield out


def test_a_token_in_a_url_argument_is_masked(log) -> None:
    logging.getLogger("bot.test").info("calling %s", URL)
    assert TOKEN not in log.getvalue()
    assert "calling https://api.telegram.org/bot***/sendMessage" in log.getvalue()


def test_a_token_shaped_string_is_masked_even_when_not_configured(log) -> None:
    other = "123456789:" + "Z" * 35
    logging.getLogger("bot.test").warning("someone else's bot: %s", other)
    assert other not in log.getvalue() and "someone else's bot: ***" in log.getvalue()


def test_a_token_inside_an_exception_and_its_cause_is_masked(log) -> None:
    def fail() -> None:
        try:
            raise OSError(f"cannot reach {URL}")
        except OSError as error:
            request = httpx.Request("POST", URL)
            raise httpx.ConnectError(f"gave up on {URL}", request=request) from error

    try:
        fail()
    except httpx.ConnectError:
        logging.getLogger("bot.test").exception("delivery failed")
    printed = log.getvalue()
    assert TOKEN not in printed
    assert "delivery failed" in printed and "Traceback (most recent call last)" in printed
    assert "in fail" in printed  # the stack stays readable
    assert "OSError: cannot reach https://api.telegram.org/bot***/sendMessage" in printed
    assert "direct cause of the following exception" in printed
    assert "httpx.ConnectError: gave up on" in printed


def test_configured_secrets_are_masked_as_they_are_and_url_encoded(log) -> None:
    logging.getLogger("bot.test").info(
        "secret %s and %s", APP_SECRET, "s3cr3t%2Fwith%2Bsigns%26more"
    )
    logging.getLogger("bot.test").info("the key is %r", {"aes": AES_KEY})
    printed = log.getvalue()
    assert APP_SECRET not in printed and "s3cr3t%2F" not in printed and AES_KEY not in printed
    assert printed.count(logs.MASK) == 3


@pytest.mark.parametrize(
    "line",
    [
        "GET /cgi-bin/token?grant_type=client_credential&appid=wx1&secret=XYZ123secret HTTP/1.1",
        "POST /cgi-bin/message/custom/send?access_token=XYZ123secret HTTP/1.1",
        "{'url': 'https://shop/hook', 'secret_token': 'XYZ123secret'}",
        '{"access_token": "XYZ123secret", "expires_in": 7200}',
        "postgresql+psycopg://shop:XYZ123secret@db:5432/shop",
        "redis://:XYZ123secret@cache:6379/0",
    ],
)
def test_secret_shaped_parameters_are_masked(log, line: str) -> None:
    logging.getLogger("bot.test").info(line)
    assert "XYZ123secret" not in log.getvalue() and logs.MASK in log.getvalue()


def test_a_remembered_access_token_is_masked_wherever_it_appears(log) -> None:
    logs.remember_secret("ACCESS_abcdef0123456789")
    logging.getLogger("bot.test").info("token ACCESS_abcdef0123456789 stored")
    assert "ACCESS_abcdef" not in log.getvalue()


@pytest.mark.parametrize(
    "phone", ["13812345678", "+8613812345678", "86 13812345678", "+447700900123"]
)
def test_phone_numbers_are_masked(log, phone: str) -> None:
    logging.getLogger("bot.test").info("customer %s, order CS100001, chat 1234567890", phone)
    printed = log.getvalue()
    assert phone.split()[-1] not in printed
    assert "order CS100001, chat 1234567890" in printed


def test_an_exception_that_may_echo_customer_text_is_logged_without_its_message(log) -> None:
    address = "上海市浦东新区世纪大道100号"
    try:
        int(address)
    except ValueError:
        logging.getLogger("bot.gateway").exception("failed to handle web message")
    printed = log.getvalue()
    assert "世纪大道" not in printed
    assert f"ValueError: {logs.WITHHELD}" in printed
    assert "int(address)" in printed  # where it failed is still shown


def test_platform_errors_keep_their_message(log) -> None:
    try:
        raise BadRequest("Message is too long")
    except BadRequest:
        logging.getLogger("bot.test").exception("refused")
    assert "telegram.error.BadRequest: Message is too long" in log.getvalue()


def test_libraries_print_warnings_and_errors_only(log) -> None:
    logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 200 OK"', URL)
    logging.getLogger("telegram.Bot").debug("Calling sendMessage with {'text': '张伟'}")
    logging.getLogger("some.library").info("request body: 张伟")
    logging.getLogger("httpx").warning("retrying %s", URL)
    logging.getLogger("bot.test").debug("our own debug line")
    printed = log.getvalue()
    assert "HTTP Request" not in printed and "张伟" not in printed
    assert "WARNING httpx: retrying https://api.telegram.org/bot***/sendMessage" in printed
    assert "DEBUG bot.test: our own debug line" in printed


def test_a_stack_dump_is_masked(log) -> None:
    logging.getLogger("bot.test").info("at %s", URL, stack_info=True)
    assert TOKEN not in log.getvalue() and "Stack (most recent call last)" in log.getvalue()


def test_arguments_that_do_not_fit_are_left_out(log) -> None:
    logging.getLogger("bot.test").info("two %s %s", URL)  # noqa: PLE1206 -- on purpose
    printed = log.getvalue()
    assert TOKEN not in printed and "arguments left out" in printed


def test_configuring_twice_prints_each_line_once(log) -> None:
    logs.configure(Settings(log_level="INFO", telegram_bot_token=TOKEN), logging.StreamHandler(log))
    logging.getLogger("bot.test").info("once")
    assert log.getvalue().count("once") == 1


def test_redact_masks_text_printed_outside_the_log(log) -> None:
    assert logs.redact(f"WeChat refused: {URL}?secret={APP_SECRET}") == (
        "WeChat refused: https://api.telegram.org/bot***/sendMessage?secret=***"
    )


def test_a_value_that_cannot_be_printed_is_left_out(log) -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError(f"secret {TOKEN}")

    logging.getLogger("bot.test").warning("value: %s", Broken())  # must not raise
    printed = log.getvalue()
    assert TOKEN not in printed and "WARNING bot.test: value: %s (arguments left out" in printed


def test_a_line_that_cannot_be_checked_is_withheld_and_the_caller_carries_on(
    log, monkeypatch
) -> None:
    def broken(error: BaseException) -> str:
        raise RuntimeError("a bug in the renderer")

    monkeypatch.setattr(logs, "describe", broken)
    try:
        raise OSError(f"cannot reach {URL}")
    except OSError:
        logging.getLogger("bot.test").exception("delivery failed")  # must not raise
    printed = log.getvalue()
    assert TOKEN not in printed and "ERROR bot.test: ERROR line withheld" in printed
