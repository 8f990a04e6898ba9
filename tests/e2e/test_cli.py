"""The `chatshop` command as a merchant runs it."""

from pathlib import Path

from tests.conftest import FIXTURES
from tests.e2e.conftest import run_chatshop


def chatshop(tmp_path: Path, *args: str):
    return run_chatshop(tmp_path, *args)


def test_db_upgrade_then_import_then_reimport(tmp_path) -> None:
    assert chatshop(tmp_path, "db", "upgrade").returncode == 0
    first = chatshop(tmp_path, "catalog", "import", str(FIXTURES / "small_catalog.csv"))
    assert first.returncode == 0 and "4 new products" in first.stdout
    again = chatshop(tmp_path, "catalog", "import", str(FIXTURES / "small_catalog.csv"))
    assert again.returncode == 0 and "0 new products, 4 updated" in again.stdout


def test_bad_catalog_is_refused_with_line_numbers(tmp_path) -> None:
    assert chatshop(tmp_path, "db", "upgrade").returncode == 0
    bad = tmp_path / "bad.csv"
    lines = (FIXTURES / "small_catalog.csv").read_text("utf-8").splitlines()
    bad.write_text("\n".join([lines[0], lines[1], lines[2].replace("79.00", "-5")]) + "\n", "utf-8")
    result = chatshop(tmp_path, "catalog", "import", str(bad))
    assert result.returncode == 1
    assert "Nothing imported" in result.stderr and "line 3" in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path) -> None:
    result = chatshop(tmp_path, "serve", "--port", "1")
    assert result.returncode == 1 and "chatshop db upgrade" in result.stderr
