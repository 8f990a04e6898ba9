"""Engines: what a failing statement says about the data it carried."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError

from bot import logs
from bot.config import Settings
from store.db import make_engine, make_session_factory
from store.models import ChannelIdentity, Customer
from store.uow import UnitOfWork

OPENID = "o_private_openid_42"
PHONE = "13812345678"


def test_a_failing_statement_names_no_customer_data_in_the_log(store_url: str) -> None:
    engine = make_engine(store_url)
    sessions = make_session_factory(engine)
    with UnitOfWork(sessions) as uow:
        customer = Customer(name="张伟", phone=PHONE)
        uow.session.add(customer)
        uow.session.flush()
        uow.session.add(
            ChannelIdentity(customer_id=customer.id, channel="wechat", external_id=OPENID)
        )
        uow.commit()
        customer_id = customer.id
    with logs.captured(Settings(log_level="INFO")) as out, UnitOfWork(sessions) as uow:
        uow.session.add(
            ChannelIdentity(customer_id=customer_id, channel="wechat", external_id=OPENID)
        )
        with pytest.raises(IntegrityError) as raised:
            uow.session.flush()
        logging.getLogger("store.test").error("could not save", exc_info=raised.value)
    engine.dispose()
    # the driver's own text may quote the key (PostgreSQL's DETAIL), SQLAlchemy adds no more
    assert "[parameters:" not in str(raised.value) and "parameters hidden" in str(raised.value)
    printed = out.getvalue()
    assert "IntegrityError" in printed and OPENID not in printed and PHONE not in printed
