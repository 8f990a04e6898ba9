"""APScheduler jobs: small shells that call store services with `now` passed in."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from dialogs.i18n import t
from scheduler.dispatcher import dispatch_due
from store import orders, wechat_pay
from store.models import utcnow
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.bootstrap import App

log = logging.getLogger(__name__)


def dispatch_outbox(app: App) -> None:
    dispatch_due(app.sessions, app.channels)


def cancel_unpaid_orders(app: App) -> None:
    with UnitOfWork(app.sessions) as uow:
        cancelled = orders.cancel_expired(uow.session, utcnow())
        uow.commit()
    if cancelled:
        log.info("cancelled %d unpaid orders after the payment timeout", len(cancelled))


def close_abandoned_trades(app: App) -> None:
    if app.wechat_payments:
        wechat_pay.close_abandoned(app.sessions, app.wechat_payments)


def refund_unapplied_payments(app: App) -> None:
    if app.wechat_payments:
        reason = partial(t, key="wechat.refund_reason")
        wechat_pay.refund_unapplied(app.sessions, app.wechat_payments, reason, utcnow())


def refresh_catalog(app: App) -> None:
    """Pick up catalog imports done by other processes (search index, NLU vocabulary)."""
    app.refresh_catalog()


def start_scheduler(app: App) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    every = [
        (dispatch_outbox, app.settings.dispatch_interval_s),
        (cancel_unpaid_orders, 30),
        (close_abandoned_trades, 30),
        (refund_unapplied_payments, 60),
        (refresh_catalog, 10),
    ]
    for job, seconds in every:
        # One run at a time per job; a late tick is merged, not queued behind the last.
        scheduler.add_job(
            job,
            "interval",
            args=[app],
            seconds=seconds,
            id=job.__name__,
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    return scheduler
