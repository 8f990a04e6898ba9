"""Whole purchases over Telegram and WeChat with every logger at DEBUG, through the logging
set-up `chatshop serve` uses: the log holds no secret and no customer's personal data."""

from __future__ import annotations

import inspect

from bot import logs
from bot.config import Settings
from dialogs.i18n import t
from tests.e2e.conftest import run_chatshop
from tests.e2e.test_telegram import PROVIDER_TOKEN, SECRET, shop_until_order_placed, telegram_shop
from tests.e2e.test_wechat import AES_KEY, buy, has, paid_text, wechat_shop
from tests.fakes.telegram import running_fake_telegram
from tests.fakes.wechat import FakeWeChat, running_fake_wechat
from tests.fakes.wechat_pay import FakeWeChatPay

BOT_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"  # shaped like a real one
PHONE = "13812345678"  # every form contains it: as typed, +86…, 86…
NAME = "张伟"
ADDRESS = "上海市浦东新区世纪大道100号"


def _default(cls: type, name: str) -> str:
    return inspect.signature(cls).parameters[name].default


WECHAT_SECRET = _default(FakeWeChat, "app_secret")
WECHAT_TOKEN = _default(FakeWeChat, "token")
PAY_KEY = _default(FakeWeChatPay, "api_key")


def debug_log(**secrets: str):
    """Everything logged during the block, as `chatshop serve` prints it at DEBUG."""
    return logs.captured(Settings(log_level="DEBUG", **secrets))


def leaks(log: str, *values: str) -> list[str]:
    return [value for value in values if value in log]


def test_a_telegram_purchase_logs_no_token_secret_or_personal_data(
    sample_db, tmp_path, interpreter
) -> None:
    secrets = {
        "telegram_bot_token": BOT_TOKEN,
        "telegram_webhook_secret": SECRET,
        "telegram_payment_provider_token": PROVIDER_TOKEN,
    }
    with (
        debug_log(**secrets) as out,
        telegram_shop(
            sample_db, tmp_path, interpreter, webhook=True, fake_kw={"token": BOT_TOKEN}
        ) as shop,
    ):
        user = shop.fake.user(5001, "Li", "zh-hans")
        invoice = shop_until_order_placed(user, "zh")
        assert user.pay(invoice).ok
        user.wait_for(lambda m: "已收到付款" in m.text)
    log = out.getvalue()
    assert "bot.channels.telegram" in log  # our own lines are there, at INFO
    assert leaks(log, BOT_TOKEN, BOT_TOKEN.split(":")[1], SECRET, PROVIDER_TOKEN) == []
    assert leaks(log, PHONE, NAME, ADDRESS, "世纪大道") == []


def test_a_wechat_purchase_logs_no_secret_key_or_personal_data(
    sample_db, tmp_path, interpreter
) -> None:
    secrets = {
        "wechat_app_id": "wx_logs",
        "wechat_app_secret": WECHAT_SECRET,
        "wechat_token": WECHAT_TOKEN,
        "wechat_aes_key": AES_KEY,
        "wechat_pay_api_key": PAY_KEY,
    }
    with debug_log(**secrets) as out, wechat_shop(sample_db, tmp_path, interpreter) as shop:
        assert (shop.fake.app_secret, shop.pay.api_key) == (WECHAT_SECRET, PAY_KEY)
        user = shop.fake.user("o_logs_buyer")
        order, payment = buy(shop, user)
        shop.pay.pay(payment.token)
        user.wait_for(has(paid_text(order)), timeout=15)
        access_tokens = [issued.token for issued in shop.fake.tokens_issued]
    log = out.getvalue()
    assert "payment notification wechatpay" in log  # our own lines are there, at INFO
    assert access_tokens and leaks(log, *access_tokens) == []
    assert leaks(log, WECHAT_SECRET, WECHAT_TOKEN, AES_KEY, PAY_KEY) == []
    assert leaks(log, PHONE, NAME, ADDRESS, "世纪大道", user.openid) == []
    assert leaks(log, t("zh", "checkout.ask_name")) == []  # nor what the bot said


def test_the_cli_at_debug_prints_no_token_or_secret(tmp_path) -> None:
    with running_fake_telegram(token=BOT_TOKEN) as fake:
        telegram = {
            "CHATSHOP_LOG_LEVEL": "DEBUG",
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_BASE_URL": fake.url,
            "TELEGRAM_WEBHOOK_URL": "https://shop.example/webhooks/telegram",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
        }
        result = run_chatshop(tmp_path, "telegram", "set-webhook", env=telegram)
    assert result.returncode == 0, result.stderr
    assert leaks(result.stdout + result.stderr, BOT_TOKEN, SECRET) == []

    with running_fake_wechat() as wechat:
        env = {
            "CHATSHOP_LOG_LEVEL": "DEBUG",
            "WECHAT_APP_ID": wechat.app_id,
            "WECHAT_APP_SECRET": wechat.app_secret,
            "WECHAT_TOKEN": wechat.token,
            "WECHAT_API_BASE_URL": wechat.url,
        }
        result = run_chatshop(tmp_path, "wechat", "menu", env=env)
        access_tokens = [issued.token for issued in wechat.tokens_issued]
    assert result.returncode == 0, result.stderr
    assert "new WeChat access token" in result.stderr  # our INFO line is there
    assert access_tokens and leaks(result.stderr, wechat.app_secret, *access_tokens) == []
