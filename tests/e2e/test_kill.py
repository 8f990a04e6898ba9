"""The kill test, small: web and Telegram customers check out and pay against `chatshop serve`
on PostgreSQL, the server is killed with SIGKILL while the "payment received" pushes go out,
and started again. Nothing is sold twice or lost, no payment is without its order, every web
push shows exactly once, no Telegram message shows twice, and any that may be missing is
recorded as in doubt. `python bench/kill.py` is the full-size version."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL, ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="CHATSHOP_TEST_DATABASE_URL is not set"),
]


def bench_kill():
    spec = importlib.util.spec_from_file_location("bench_kill", ROOT / "bench" / "kill.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_server_killed_while_pushing_payments_loses_and_doubles_nothing(
    tmp_path: Path, interpreter
) -> None:
    interpreter.save(tmp_path / "nlu-cache")  # the server loads it instead of training
    kill = bench_kill()
    burst = kill.Burst(web=3, telegram=6, phase="pushes", delay_s=0.1, stock=2)
    report = kill.run(PG_URL, tmp_path, burst)
    assert report["customer_errors"] == 0 and report["paid_orders"] == report["customers_paid"]
    assert report["stock_ok"] and report["payments_ok"] and report["web_exactly_once"]
    assert report["doubles_telegram"] == 0
    assert report["lost_telegram"] <= report["in_doubt_telegram"]  # any loss is on record
    assert report["tracebacks"] == 0
