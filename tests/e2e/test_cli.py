"""The `chatshop` command as a merchant runs it."""

from pathlib import Path

from tests.conftest import FIXTURES
from tests.e2e.conftest import run_chatshop
from tests.fakes.telegram import running_fake_telegram
from tests.fakes.wechat import running_fake_wechat


def chatshop(tmp_path: Path, *args: str):
    return run_chatshop(tmp_path, *args)


def test_db_upgrade_then_import_then_reimport(tmp_path) -> None:
    assert chatshop(tmp_path, "db", "upgrade").returncode == 0
    first = chatshop(tmp_path, "catalog", "import", str(FIXTURES / "small_catalog.csv"))
    assert first.returncode == 0 and "4 new products" in first.stdout
    again = chatshop(tmp_path, "catalog", "import", str(FIXTURES / "small_catalog.csv"))
    assert again.returncode == 0 and "0 new products, 4 updated" in again.stdout


def test_bad_catalog_is_refused_with_line_numbers(tmp_path) -> None:
    assert chatshop(tmp_path, "db", "upgrade").returncode == 0
    bad = tmp_path / "bad.csv"
    lines = (FIXTURES / "small_catalog.csv").read_text("utf-8").splitlines()
    bad.write_text("\n".join([lines[0], lines[1], lines[2].replace("79.00", "-5")]) + "\n", "utf-8")
    result = chatshop(tmp_path, "catalog", "import", str(bad))
    assert result.returncode == 1
    assert "Nothing imported" in result.stderr and "line 3" in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path) -> None:
    env = {"CHATSHOP_SANDBOX_PAYMENTS": "true"}
    result = run_chatshop(tmp_path, "serve", "--port", "1", env=env)
    assert result.returncode == 1 and "chatshop db upgrade" in result.stderr


def test_serve_without_a_payment_provider_says_what_is_missing(tmp_path) -> None:
    result = chatshop(tmp_path, "serve", "--port", "1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "TELEGRAM_PAYMENT_PROVIDER_TOKEN" in result.stderr
    assert "WECHAT_PAY_MCH_ID" in result.stderr


def test_the_demo_with_test_payments_refuses_a_public_address(tmp_path) -> None:
    env = {"CHATSHOP_PUBLIC_URL": "https://shop.example.com"}
    result = run_chatshop(tmp_path, "demo", "--port", "1", env=env)
    assert result.returncode == 2 and "CHATSHOP_SANDBOX_PAYMENTS" in result.stderr
    assert not (tmp_path / "shop.db").exists()  # refused before touching anything


def test_telegram_set_webhook_points_telegram_at_the_shop(tmp_path) -> None:
    with running_fake_telegram() as fake:
        settings = {
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.url,
            "TELEGRAM_WEBHOOK_URL": "https://shop.example/webhooks/telegram",
        }
        refused = run_chatshop(tmp_path, "telegram", "set-webhook", env=settings)
        assert refused.returncode == 2 and "TELEGRAM_WEBHOOK_SECRET" in refused.stderr
        assert "Traceback" not in refused.stderr

        settings["TELEGRAM_WEBHOOK_SECRET"] = "cli-webhook-secret-0123456789"
        result = run_chatshop(tmp_path, "telegram", "set-webhook", env=settings)
        assert result.returncode == 0, result.stderr
        assert "https://shop.example/webhooks/telegram" in result.stdout
        [call] = fake.calls_to("setWebhook")
        assert call.params["secret_token"] == "cli-webhook-secret-0123456789"
        assert "pre_checkout_query" in call.params["allowed_updates"]
        assert not call.params.get("drop_pending_updates")
        assert {c.params.get("language_code") for c in fake.calls_to("setMyCommands")} >= {
            "zh",
            "en",
        }


def test_wechat_menu_pushes_the_shop_menu_in_chinese(tmp_path) -> None:
    with running_fake_wechat() as fake:
        settings = {"WECHAT_APP_ID": fake.app_id, "WECHAT_API_BASE_URL": fake.url}
        refused = run_chatshop(tmp_path, "wechat", "menu", env=settings)
        assert refused.returncode == 2 and "WECHAT_APP_SECRET" in refused.stderr
        assert "Traceback" not in refused.stderr

        settings |= {"WECHAT_APP_SECRET": fake.app_secret, "WECHAT_TOKEN": fake.token}
        result = run_chatshop(tmp_path, "wechat", "menu", env=settings)
        assert result.returncode == 0, result.stderr
        top = [button["name"] for button in fake.menu["button"]]
        assert top == ["逛商城", "购物车", "我的"]
        mine = [b["name"] for b in fake.menu["button"][2]["sub_button"]]
        assert mine == ["我的订单", "联系客服"]
        assert fake.menu_keys() == {"browse_categories", "view_cart", "orders", "human_agent"}

        wrong = {**settings, "WECHAT_APP_SECRET": "not-the-secret"}
        (tmp_path / "other").mkdir()  # another shop: no access token stored yet
        failed = run_chatshop(tmp_path / "other", "wechat", "menu", env=wrong)
        assert failed.returncode == 1 and "WeChat refused" in failed.stderr
        assert "not-the-secret" not in failed.stderr and "Traceback" not in failed.stderr
