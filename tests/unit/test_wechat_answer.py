"""Telling WeChat's retry of a push from a replay of its signature."""

from bot.channels.wechat_answer import Nonces, SystemClock

QUERY = {"signature": "5f1c", "timestamp": "1700000000", "nonce": "8412", "openid": "o_1"}
BODY = b"<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>"


def test_the_same_request_again_is_a_retry() -> None:
    nonces = Nonces(SystemClock())
    assert nonces.spend(QUERY, BODY)
    assert nonces.spend(dict(reversed(QUERY.items())), BODY)  # the order of the query is no matter
    assert nonces.spend(QUERY, BODY)  # WeChat tries three times


def test_the_same_nonce_with_anything_else_changed_is_a_replay() -> None:
    nonces = Nonces(SystemClock())
    assert nonces.spend(QUERY, BODY)
    assert not nonces.spend(QUERY, BODY.replace(b"abc", b"abd"))
    assert not nonces.spend(QUERY | {"openid": "o_2"}, BODY)
    assert nonces.spend(QUERY | {"nonce": "8413"}, BODY)  # another nonce: another push
