"""The `chatshop` command as a merchant runs it."""

import sqlite3
from pathlib import Path

from tests.conftest import FIXTURES
from tests.e2e.conftest import run_chatshop
from tests.fakes.pictures import running_picture_host
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


def test_catalog_import_publishes_no_file_from_outside_the_catalog_folder(tmp_path) -> None:
    # given a supplier's catalog that names secrets beside it and on the system
    assert chatshop(tmp_path, "db", "upgrade").returncode == 0
    (tmp_path / "sandbox.key").write_text("sandbox-key-not-for-the-public\n")
    folder = tmp_path / "supplier"
    folder.mkdir()
    lines = (FIXTURES / "small_catalog.csv").read_text("utf-8").splitlines()
    (folder / "notes.png").write_text("not a picture", "utf-8")
    images = ["/etc/passwd", "../sandbox.key", "notes.png"]
    rows = [
        line.replace(",,cotton", f",{image},cotton")
        for line, image in zip(lines[1:4], images, strict=True)
    ]
    catalog = folder / "catalog.csv"
    catalog.write_text("\n".join([lines[0], *rows]) + "\n", "utf-8")
    # when the merchant imports it
    result = chatshop(tmp_path, "catalog", "import", str(catalog))
    # then nothing is imported or published, and each row says why
    assert result.returncode == 1 and "Nothing imported: 3 problem(s)" in result.stderr
    assert "line 2: image /etc/passwd: must be a path inside the catalog's folder" in result.stderr
    assert (
        "line 3: image ../sandbox.key: must be a path inside the catalog's folder" in result.stderr
    )
    assert "line 4: image notes.png: not a PNG, JPEG, GIF or WebP picture" in result.stderr
    media = tmp_path / "media"
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


def test_a_web_picture_is_fetched_by_the_import_only_when_the_merchant_asks(tmp_path) -> None:
    assert chatshop(tmp_path, "db", "upgrade").returncode == 0
    lines = (FIXTURES / "small_catalog.csv").read_text("utf-8").splitlines()
    with running_picture_host() as host:
        url = f"{host.url}/pic.png"
        catalog = tmp_path / "catalog.csv"
        catalog.write_text(f"{lines[0]}\n{lines[1].replace(',,cotton', f',{url},cotton')}\n")
        # without --fetch-images the address stays a link that browsers and Telegram load
        kept = chatshop(tmp_path, "catalog", "import", str(catalog))
        assert kept.returncode == 0, kept.stderr
        assert host.requests == []
        with sqlite3.connect(tmp_path / "shop.db") as db:
            assert db.execute("SELECT image FROM products").fetchall() == [(url,)]
        # with it, the shop's server would fetch: a local address is refused, never contacted
        fetched = chatshop(tmp_path, "catalog", "import", str(catalog), "--fetch-images")
        assert fetched.returncode == 1 and "line 2: image" in fetched.stderr
        assert "127.0.0.1 is not a public internet address" in fetched.stderr
        assert host.requests == []
