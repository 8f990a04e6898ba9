"""The inbound chain: de-duplication, transcript, takeover silence, error boundary."""

from sqlalchemy import func, select

from bot.messages import Inbound
from scheduler.dispatcher import failed
from store.models import Conversation, ConversationMode, Message, OutboxMessage, utcnow
from store.uow import UnitOfWork


def count_messages(app) -> int:
    with UnitOfWork(app.sessions) as uow:
        return uow.session.scalar(select(func.count()).select_from(Message))


def test_a_retried_message_is_handled_once_and_gets_the_same_replies(demo_app) -> None:
    inbound = Inbound("web", "dupe-user-1", "msg-1", text="red t-shirt")
    first = demo_app.gateway.handle(inbound)
    recorded = count_messages(demo_app)
    again = demo_app.gateway.handle(inbound)
    assert again.duplicate and [m.id for m in again.replies] == [m.id for m in first.replies]
    assert count_messages(demo_app) == recorded


def test_every_message_in_and_out_is_recorded(demo_app) -> None:
    handled = demo_app.gateway.handle(Inbound("web", "transcript-1", "a", text="hello"))
    with UnitOfWork(demo_app.sessions) as uow:
        rows = uow.session.scalars(select(Message).order_by(Message.id)).all()
    assert [(m.direction, m.reply_to) for m in rows] == [("in", None)] + [
        ("out", handled.inbound.id)
    ] * len(handled.replies)


def test_the_bot_stays_silent_while_an_agent_holds_the_conversation(demo_app) -> None:
    demo_app.gateway.handle(Inbound("web", "taken-1", "a", text="hello"))
    with UnitOfWork(demo_app.sessions) as uow:
        uow.session.scalars(select(Conversation)).one().mode = ConversationMode.AGENT
        uow.commit()
    handled = demo_app.gateway.handle(Inbound("web", "taken-1", "b", text="where is my order"))
    assert handled.inbound is not None and handled.replies == []


def test_an_unexpected_error_becomes_an_apology_not_a_stack_trace(demo_app, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(demo_app.gateway._engine, "step", boom)
    handled = demo_app.gateway.handle(Inbound("web", "err-1", "a", text="你好"))
    assert [m.text for m in handled.replies] == ["抱歉，系统开小差了，请稍后再试。"]


def test_a_queued_channels_reply_is_leased_to_the_caller_unless_older_pushes_wait(
    demo_app, monkeypatch
) -> None:
    monkeypatch.setattr(demo_app.gateway, "queued_channels", frozenset({"telegram"}))
    first = demo_app.gateway.handle(Inbound("telegram", "77", "1", text="hello"))
    assert first.leased is not None and first.leased.chat_id == "77"
    # its delivery fails and backs off: the next reply must not overtake it
    failed(demo_app.sessions, first.leased, "network down", utcnow())
    second = demo_app.gateway.handle(Inbound("telegram", "77", "2", text="my cart"))
    assert second.leased is None and second.replies
    with UnitOfWork(demo_app.sessions) as uow:
        assert uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
