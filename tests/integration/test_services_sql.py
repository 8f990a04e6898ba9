"""The unit service suite again, on a real SQLite file and on PostgreSQL."""

import pytest

from tests.unit.test_services import *  # noqa: F403 — the contract suite, re-run here


@pytest.fixture
def sessions(sql_sessions):
    return sql_sessions
