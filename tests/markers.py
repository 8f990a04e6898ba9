"""The `postgres` and `browser` markers: what a test needs that a developer may not have.

A test that needs PostgreSQL (the `pg_url` fixture, or the PostgreSQL side of `store_url`) or
Chromium (the `chromium` fixture) is marked for it at collection, whatever file it lives in.
Without the database or the browser it is skipped with a visible reason, so a developer can run
the suite anywhere; with `CHATSHOP_REQUIRE_ALL=1` (CI sets it) that skip is a failure, so a run
that silently tested only SQLite, or no browser at all, can never pass as green.

tests/conftest.py loads this module as a plugin (`pytest_plugins`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator

import pytest

PG_URL = os.environ.get("CHATSHOP_TEST_DATABASE_URL")
CHROMIUM = shutil.which("chromium")
REQUIRE_ALL_VAR = "CHATSHOP_REQUIRE_ALL"

# marker -> (fixture that implies it, what is missing when it cannot run)
NEEDS = {
    "postgres": ("pg_url", "CHATSHOP_TEST_DATABASE_URL is not set"),
    "browser": ("chromium", "Debian chromium is not installed"),
}


def require_all() -> bool:
    return os.environ.get(REQUIRE_ALL_VAR, "") not in ("", "0")


def _missing(marker: str) -> bool:
    return not (PG_URL if marker == "postgres" else CHROMIUM)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Marks follow from the fixtures a test uses, so a new test cannot forget them.
    for item in items:
        names = getattr(item, "fixturenames", ())
        for marker, (fixture, _) in NEEDS.items():
            if fixture in names and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


@pytest.hookimpl(tryfirst=True)  # before any fixture is set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, (_, reason) in NEEDS.items():
        if item.get_closest_marker(marker) and _missing(marker):
            pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Any skip of a marked test counts (ours above, a skipif, an importorskip), not xfails.
    needs = [m for m in NEEDS if item.get_closest_marker(m)]
    if report.skipped and needs and require_all() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        reason = str(reason).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = (
            f"{'/'.join(needs)} test skipped ({reason}), "
            f"but {REQUIRE_ALL_VAR}=1 requires every PostgreSQL and browser test to run"
        )
    return report


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL test database (wiped by the tests that use it)."""
    assert PG_URL, "the postgres marker skips this test without CHATSHOP_TEST_DATABASE_URL"
    return PG_URL


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium, for Playwright."""
    assert CHROMIUM, "the browser marker skips this test without chromium"
    return CHROMIUM
