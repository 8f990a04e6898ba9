"""What a Telegram Payments invoice for an order says, and the payment it pays."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from dialogs.i18n import money, t
from store import orders, payments
from store.errors import DomainError
from store.models import utcnow
from store.payments import TelegramPayments
from store.uow import UnitOfWork


class Invoice(NamedTuple):
    token: str  # the payment's token, which Telegram hands back as invoice_payload
    title: str
    description: str
    label: str
    amount: int
    currency: str


def invoice_for(
    sessions: sessionmaker[Session], provider: TelegramPayments, number: str
) -> Invoice | None:
    """Start (or reuse) the Telegram payment of an order; None if it is not payable."""
    with UnitOfWork(sessions) as uow:
        s = uow.session
        try:
            order = orders.get_order(s, None, number)
            payment = payments.start_payment(s, provider, order, utcnow())
        except DomainError:
            return None
        lang = order.language
        lines = ", ".join(
            t(
                lang,
                "invoice.line",
                name=line.name_zh if lang == "zh" else line.name_en,
                qty=line.quantity,
            )
            for line in order.lines
        )
        total = money(order.total, order.currency)
        result = Invoice(
            token=payment.token,
            title=t(lang, "invoice.title", number=order.number)[:32],
            description=t(lang, "invoice.description", lines=lines, total=total)[:255],
            label=t(lang, "invoice.label", number=order.number),
            amount=payment.amount,
            currency=payment.currency,
        )
        uow.commit()
        return result
