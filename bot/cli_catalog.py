"""`chatshop catalog import`: validate a whole file, then import it in one transaction with a
progress bar (and, when the merchant asks, the catalog's web pictures fetched first)."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.config import Settings

if TYPE_CHECKING:
    from store.image_fetch import RemoteImageFetcher
    from store.importer import ImportReport


def import_catalog(settings: Settings, file: Path, fetch_images: bool = False) -> int:
    """Import FILE, or list every problem and import nothing; the command's exit status."""
    from store.importer import CatalogError

    try:
        with _fetcher() if fetch_images else nullcontext() as fetcher:
            report, count = _import_checked(settings, file, fetcher)
    except CatalogError as error:
        click.echo(f"Nothing imported: {len(error.problems)} problem(s) in {file.name}:", err=True)
        for where, what in error.problems[:200]:
            click.echo(f"  {where}: {what}", err=True)
        return 1
    click.echo(
        f"Imported {count} SKUs: {report.products_created} new products, "
        f"{report.products_updated} updated; {report.variants_created} new SKUs, "
        f"{report.variants_updated} updated."
    )
    return 0


def _fetcher() -> RemoteImageFetcher:
    from store.image_fetch import RemoteImageFetcher

    return RemoteImageFetcher()


def _import_checked(
    settings: Settings, file: Path, fetcher: RemoteImageFetcher | None
) -> tuple[ImportReport, int]:
    from store.db import make_engine, make_session_factory
    from store.importer import import_rows, read_catalog
    from store.uow import UnitOfWork

    if fetcher:
        click.echo("Downloading the catalog's web pictures (at most 10 s each)…", err=True)
    rows = read_catalog(file, settings.currency, fetcher)
    engine = make_engine(settings.database_url)
    try:
        with (
            UnitOfWork(make_session_factory(engine)) as uow,
            click.progressbar(
                length=len(rows), label=f"Importing {file.name}", file=sys.stderr
            ) as bar,
        ):
            report = import_rows(uow.session, rows, Path(settings.media_dir), bar.update)
            uow.commit()
    finally:
        engine.dispose()
    return report, len(rows)
