"""`chatshop serve` and `demo`: refuse to start without a safe way to take payment, then load
the shop and run it with uvicorn."""

from __future__ import annotations

import sys

import click

from bot.config import Settings


def check_payments(settings: Settings, demo: bool) -> None:
    """Exit with the reason when the shop must not start as configured (see payment_problem)."""
    from bot.bootstrap import payment_problem

    problem = payment_problem(settings, demo)
    if problem:
        click.echo(f"Not starting: {problem}", err=True)
        sys.exit(2)


def serve_shop(settings: Settings, demo: bool = False) -> None:
    """Load the shop (the language model, the catalog), say where it listens, and serve."""
    import uvicorn

    from bot.bootstrap import bootstrap, sandbox_warning
    from bot.server import create_app
    from store.migrate import is_current

    if not is_current(settings.database_url):
        click.echo(
            "The database schema is not up to date. Run `chatshop db upgrade` first.", err=True
        )
        sys.exit(1)
    click.echo("Loading the language model…")
    app = bootstrap(settings, demo=demo)
    app.refresh_catalog()
    if warning := sandbox_warning(app):
        click.secho(f"\n  !! {warning}", fg="red", bold=True, err=True)  # stderr: logs see it
    click.echo(f"\n  Web chat:  {settings.base_url}/")
    if settings.telegram_bot_token:
        mode = "webhook" if settings.telegram_webhook_url else "polling"
        click.echo(f"  Telegram:  on ({mode})")
    if settings.wechat_app_id:
        click.echo(f"  WeChat:    {settings.base_url}/webhooks/wechat")
    click.echo("")
    # log_config=None: uvicorn's lines go through our handler (and its redaction), not its own
    uvicorn.run(
        create_app(app),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,
    )
