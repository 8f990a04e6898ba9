"""The order number tests again, on a real SQLite file and on PostgreSQL (where a clash
must roll back only a savepoint, not the transaction holding the stock locks)."""

import pytest

from tests.unit.test_order_numbers import *  # noqa: F403 — the same suite, re-run here


@pytest.fixture
def sessions(sql_sessions):
    return sql_sessions
