"""APScheduler jobs: small shells that call store services with `now` passed in."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from dialogs.i18n import t
from scheduler.dispatcher import dispatch_due
from store import orders, payments
from store.models import utcnow
from store.uow import UnitOfWork
from store.wechat_pay import WeChatPayError

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
    """Close WeChat Pay trades of orders that were cancelled or paid another way."""
    providers = {p.name: p for p in (app.wechat_pay, app.wechat_jsapi) if p is not None}
    if not providers:
        return
    with UnitOfWork(app.sessions) as uow:
        open_ = [
            (p.token, p.provider, "trade_type" in p.data)
            for p in payments.abandoned(uow.session, list(providers))
        ]
    for token, name, has_trade in open_:
        try:
            outcome = providers[name].close(token) if has_trade else "closed"
        except WeChatPayError as error:
            if error.err_code != "ORDERNOTEXIST":
                log.warning("could not close a wechat pay trade: %s", error)
                continue
            outcome = "closed"
        if outcome == "closed":  # "paid": its notification says what happens to the money
            with UnitOfWork(app.sessions) as uow:
                payments.mark_closed(uow.session, token)
                uow.commit()


def refund_unapplied_payments(app: App) -> None:
    """Give back WeChat Pay money that arrived for an order already cancelled (the customer
    was told it would be refunded); out_refund_no makes a retry refund once."""
    providers = {p.name: p for p in (app.wechat_pay, app.wechat_jsapi) if p is not None}
    if not providers:
        return
    with UnitOfWork(app.sessions) as uow:
        due = [
            (note.id, payment.token, payment.amount, payment.provider, language)
            for note, payment, language in payments.unapplied(uow.session, list(providers))
        ]
    for note_id, token, amount, name, language in due:
        reason = t(language, "wechat.refund_reason")  # WeChat shows it to the payer
        try:
            providers[name].refund(token, f"R{note_id}", amount, amount, reason)
        except WeChatPayError as error:
            log.warning("could not refund a wechat payment: %s", error)
            continue
        with UnitOfWork(app.sessions) as uow:
            payments.mark_refunded(uow.session, note_id, utcnow())
            uow.commit()


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
