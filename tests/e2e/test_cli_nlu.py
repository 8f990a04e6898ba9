"""`chatshop nlu evaluate` and `chatshop nlu export-rasa` as a merchant runs them."""

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, with_trained_model
from tests.e2e.conftest import run_chatshop


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, nlu_cache: Path, interpreter) -> Path:
    return with_trained_model(tmp_path_factory.mktemp("nlu-cli"), nlu_cache)


def chatshop(data_dir: Path, *args: str):
    return run_chatshop(data_dir, "nlu", *args)


def test_evaluate_json_on_a_small_file_counts_unknown_intents_as_errors(data_dir) -> None:
    result = chatshop(data_dir, "evaluate", "--data", str(FIXTURES / "nlu_small.jsonl"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["examples"] == 5
    assert report["intent_accuracy_pct"] == 80.0  # the made-up intent cannot be right
    assert report["per_intent"]["sing_a_song"]["recall_pct"] == 0.0
    assert report["entity_f1_pct"] == 100.0
    assert {"intent_macro_f1_pct", "confusions"} <= report.keys()


def test_evaluate_prints_a_readable_report_by_default(data_dir) -> None:
    result = chatshop(data_dir, "evaluate", "--data", str(FIXTURES / "nlu_small.jsonl"))
    assert result.returncode == 0 and "intent accuracy" in result.stdout
    assert "sing_a_song" in result.stdout


@pytest.mark.parametrize("content", ["{not json", "", "- just a list\n"])
def test_evaluate_refuses_unreadable_data(data_dir, tmp_path, content) -> None:
    bad = tmp_path / ("bad.jsonl" if content.startswith("{") or not content else "bad.yml")
    bad.write_text(content, "utf-8")
    result = chatshop(data_dir, "evaluate", "--data", str(bad))
    assert result.returncode != 0 and "Cannot evaluate" in result.stderr


def test_export_rasa_writes_a_project_and_will_not_clobber_it(data_dir, tmp_path) -> None:
    target = tmp_path / "rasa"
    assert chatshop(data_dir, "export-rasa", str(target)).returncode == 0
    domain = yaml.safe_load((target / "domain.yml").read_text("utf-8"))
    assert "search_product" in domain["intents"]
    assert chatshop(data_dir, "export-rasa", str(target)).returncode == 1
    assert chatshop(data_dir, "export-rasa", str(target), "--overwrite").returncode == 0
