"""The unit service suite again, on a real SQLite file and on PostgreSQL."""

import pytest

from tests.unit.test_services import *


@pytest.fixture
def sessions(sql_sessions):
    return sql_sessions
