"""CI cannot pass while PostgreSQL or browser tests are skipped (tests/markers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

INNER = """
import pytest

def test_plain():
    pass

def test_needs_postgres(pg_url):
    pass

def test_needs_a_browser(chromium):
    pass

@pytest.mark.postgres
@pytest.mark.skipif(True, reason="skipped some other way")
def test_marked_and_skipped_by_hand():
    pass

@pytest.mark.xfail(reason="a known failure is not a skip")
def test_expected_to_fail():
    raise AssertionError
"""


def run_inner(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest with our marker plugin on a small test file: no browser, and no database unless
    `env` names one."""
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "bin").mkdir(exist_ok=True)  # an empty PATH: no chromium to find
    base = {k: v for k, v in os.environ.items() if k != "CHATSHOP_TEST_DATABASE_URL"}
    base.pop("CHATSHOP_REQUIRE_ALL", None)
    env = base | {"PATH": str(tmp_path / "bin"), "PYTHONPATH": str(ROOT)} | env
    command = [sys.executable, "-m", "pytest", "-p", "tests.markers", "-p", "no:cacheprovider"]
    command += ["-q", "-rfEs", "-W", "ignore::pytest.PytestUnknownMarkWarning", "test_inner.py"]
    return subprocess.run(
        command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_developer_without_postgres_or_chromium_sees_why_tests_were_skipped(tmp_path) -> None:
    result = run_inner(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 3 skipped, 1 xfailed" in result.stdout
    assert "CHATSHOP_TEST_DATABASE_URL is not set" in result.stdout
    assert "Debian chromium is not installed" in result.stdout


def test_ci_fails_when_a_browser_or_postgres_test_is_skipped_for_any_reason(tmp_path) -> None:
    # a database URL (never connected to here) but no chromium, under CI's flag
    result = run_inner(
        tmp_path, CHATSHOP_REQUIRE_ALL="1", CHATSHOP_TEST_DATABASE_URL="postgresql://db.invalid/x"
    )
    assert result.returncode == 1, result.stdout
    assert "2 passed, 1 xfailed, 2 errors" in result.stdout
    assert "ERROR at setup of test_needs_a_browser" in result.stdout
    assert "Debian chromium is not installed" in result.stdout
    assert "ERROR at setup of test_marked_and_skipped_by_hand" in result.stdout
    assert "skipped some other way" in result.stdout
