"""The `chatshop` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from pydantic import ValidationError

from bot import logs
from bot.cli_catalog import import_catalog
from bot.cli_serve import check_payments, serve_shop
from bot.config import Settings

SAMPLE_CATALOG = Path(__file__).resolve().parent.parent / "store" / "sample" / "catalog.json"


@click.group()
def main() -> None:
    """chatshop: a chatbot storefront for the web, Telegram and WeChat."""
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        click.echo(f"Configuration problem: {problems}", err=True)
        sys.exit(2)
    logs.configure(settings)


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    from store.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.group("catalog")
def catalog_group() -> None:
    """Catalog commands."""


@catalog_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--fetch-images",
    is_flag=True,
    help="Download http(s) pictures into the media folder (public addresses only, at most "
    "5 MB and 10 s each). Without it they stay links that browsers and Telegram load.",
)
def catalog_import(file: Path, fetch_images: bool) -> None:
    """Import or update products from a CSV or JSON FILE (by SKU)."""
    settings = Settings()
    sys.exit(import_catalog(settings, file, fetch_images))


@main.group("nlu")
def nlu_group() -> None:
    """Language understanding commands."""


@nlu_group.command("evaluate")
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    default=None,
    help="Rasa YAML or JSONL file (default: the held-out test split).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def nlu_evaluate(data: Path | None, as_json: bool) -> None:
    """Score the interpreter: intent accuracy, macro F1, per-intent figures, entity F1."""
    import json

    from nlu.evaluate import DEFAULT_DATA, DatasetError, evaluate, format_report, read_dataset

    try:
        examples = read_dataset(data or DEFAULT_DATA)
    except DatasetError as error:
        click.echo(f"Cannot evaluate: {error}", err=True)
        sys.exit(2)
    interpreter = _interpreter_with_catalog(Settings())
    report = evaluate(interpreter, examples)
    click.echo(json.dumps(report, ensure_ascii=False) if as_json else format_report(report))


@nlu_group.command("export-rasa")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace the exported files if TARGET has them.")
def nlu_export_rasa(target: Path, overwrite: bool) -> None:
    """Write a Rasa project (nlu.yml, domain.yml, config.yml) trained on chatshop's data."""
    from nlu.export import export_rasa_project

    try:
        written = export_rasa_project(target, overwrite=overwrite)
    except FileExistsError:
        click.echo(
            f"{target} is not empty; use --overwrite to replace the exported files.", err=True
        )
        sys.exit(1)
    for path in written:
        click.echo(f"wrote {path}")


def _interpreter_with_catalog(settings: Settings):
    """The embedded interpreter, knowing the shop's catalog (or the sample one when no
    database is set up yet) so product, brand and category names are recognized."""
    from nlu.embedded import EmbeddedInterpreter
    from store.importer import file_vocabulary
    from store.migrate import is_current

    interpreter = EmbeddedInterpreter.load_or_train(
        Path(settings.data_dir) / "nlu-cache", settings.default_language
    )
    try:
        migrated = is_current(settings.database_url)
    except Exception:  # no database yet: the sample catalog stands in
        migrated = False
    if migrated:
        from bot.bootstrap import catalog_vocabulary
        from store.db import make_engine, make_session_factory
        from store.uow import UnitOfWork

        engine = make_engine(settings.database_url)
        with UnitOfWork(make_session_factory(engine)) as uow:
            interpreter.entities.set_catalog(*catalog_vocabulary(uow.session))
        engine.dispose()
    else:
        interpreter.entities.set_catalog(*file_vocabulary(SAMPLE_CATALOG))
    return interpreter


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default CHATSHOP_HOST).")
@click.option("--port", default=None, type=int, help="Port (default CHATSHOP_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the server (web chat, webhooks, pay pages, scheduler)."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)
    check_payments(settings, demo=False)
    serve_shop(settings)


@main.command()
@click.option("--port", default=None, type=int, help="Port (default CHATSHOP_PORT, 8000).")
def demo(port: int | None) -> None:
    """Migrate the SQLite database, load the sample catalog if empty, and serve."""
    from store.catalog import product_count
    from store.db import make_engine, make_session_factory
    from store.migrate import upgrade
    from store.uow import UnitOfWork

    settings = Settings(**({"port": port} if port else {}))
    check_payments(settings, demo=True)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        empty = product_count(uow.session) == 0
    engine.dispose()
    if empty and import_catalog(settings, SAMPLE_CATALOG) != 0:
        sys.exit(1)
    serve_shop(settings, demo=True)


@main.group("telegram")
def telegram_group() -> None:
    """Telegram commands."""


@telegram_group.command("set-webhook")
def telegram_set_webhook() -> None:
    """Point Telegram at TELEGRAM_WEBHOOK_URL (with TELEGRAM_WEBHOOK_SECRET) and register the
    bot's menu commands in Chinese and English."""
    import asyncio

    from telegram.error import TelegramError

    from bot.channels.telegram import set_webhook

    settings = Settings()
    if not (settings.telegram_bot_token and settings.telegram_webhook_url):
        click.echo("Set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_URL first.", err=True)
        sys.exit(2)
    try:
        info = asyncio.run(set_webhook(settings))
    except TelegramError as error:
        click.echo(f"Telegram refused: {logs.redact(str(error))}", err=True)
        sys.exit(1)
    click.echo(f"webhook set to {info['url']} ({info['pending_update_count']} updates pending)")
    if not info["menu"]:
        click.echo("Telegram refused the command menu; the bot works without it.", err=True)


@main.group("wechat")
def wechat_group() -> None:
    """WeChat Official Account commands."""


@wechat_group.command("menu")
def wechat_menu() -> None:
    """Push the shop's custom menu (shop, cart, my orders, customer service) in Chinese."""
    from wechatpy.exceptions import WeChatClientException

    from bot.channels.wechat import push_menu
    from store.db import make_engine, make_session_factory
    from store.migrate import upgrade

    settings = Settings()
    if not settings.wechat_app_id:
        click.echo("Set WECHAT_APP_ID, WECHAT_APP_SECRET and WECHAT_TOKEN first.", err=True)
        sys.exit(2)
    upgrade(settings.database_url)  # the shared access token lives in the database
    engine = make_engine(settings.database_url)
    try:
        menu = push_menu(settings, make_session_factory(engine))
    except (WeChatClientException, OSError) as error:
        click.echo(f"WeChat refused the menu: {logs.redact(str(error))}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    names = [b["name"] for b in menu["button"]]
    click.echo(f"menu set: {' | '.join(names)}")


if __name__ == "__main__":
    main()
