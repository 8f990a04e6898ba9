"""The Rasa project export carries all our training data over."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from nlu.embedded import training_files
from nlu.export import export_rasa_project
from nlu.rasa_yaml import load_examples, strip_annotations


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    target = tmp_path_factory.mktemp("rasa") / "project"
    return target, export_rasa_project(target)


def ours() -> list:
    return [e for path in training_files() for e in load_examples(path)]


def test_the_export_writes_data_domain_config_and_readme(project) -> None:
    target, written = project
    expected = [target / p for p in ("data/nlu.yml", "domain.yml", "config.yml", "README.md")]
    assert sorted(written) == sorted(expected)
    assert all(p.is_file() and p.stat().st_size > 0 for p in expected)
    readme = (target / "README.md").read_text("utf-8")
    assert "rasa train nlu" in readme and "rasa run --enable-api" in readme
    assert "CHATSHOP_NLU=rasa" in readme and "CHATSHOP_RASA_URL=" in readme


def test_the_domain_lists_every_intent_and_entity_type(project) -> None:
    domain = yaml.safe_load((project[0] / "domain.yml").read_text("utf-8"))
    examples = ours()
    assert domain["version"] == "3.1"
    assert set(domain["intents"]) == {e.intent for e in examples}
    assert set(domain["entities"]) == {ent[0] for e in examples for ent in e.entities}
    assert len(domain["intents"]) == len(set(domain["intents"]))
    assert domain["responses"] and domain["session_config"]


def test_the_nlu_data_has_every_example_of_every_intent(project) -> None:
    data = yaml.safe_load((project[0] / "data" / "nlu.yml").read_text("utf-8"))
    exported: Counter[str] = Counter()
    texts: set[tuple[str, str]] = set()
    intents = [b["intent"] for b in data["nlu"] if "intent" in b]
    assert len(intents) == len(set(intents)), "examples of one intent are in one block"
    for block in data["nlu"]:
        if "intent" in block:
            for line in block["examples"].splitlines():
                text, _ = strip_annotations(line.strip()[2:])
                exported[block["intent"]] += 1
                texts.add((block["intent"], text))
    examples = ours()
    assert exported == Counter(e.intent for e in examples)
    assert texts == {(e.intent, e.text) for e in examples}


def test_annotations_synonyms_lookups_and_regexes_are_kept_as_written(project) -> None:
    raw = (project[0] / "data" / "nlu.yml").read_text("utf-8")
    assert '[gray]{"entity": "color", "value": "grey"}' in raw
    assert "](product)" in raw
    data = yaml.safe_load(raw)
    synonyms = {b["synonym"]: b["examples"] for b in data["nlu"] if "synonym" in b}
    assert "红色" in synonyms["red"] and "3" in synonyms
    lookups = {b["lookup"] for b in data["nlu"] if "lookup" in b}
    assert {"color", "size", "product"} <= lookups
    regexes = {b["regex"]: b["examples"] for b in data["nlu"] if "regex" in b}
    assert r"CS\d{6}" in regexes["order_id"]
    order_id = [re.compile(r.strip()[2:]) for r in regexes["order_id"].splitlines() if r.strip()]
    for typed in ("CS2611297KQ4M", "cs2611297kq4m", "CS100023"):
        assert any(r.search(typed) for r in order_id), typed  # both formats, as Rasa matches
    phone = regexes["phone"].splitlines()
    assert len(phone) == len(set(phone)), "patterns shared by both languages appear once"


def test_the_config_is_a_jieba_and_diet_pipeline(project) -> None:
    config = yaml.safe_load((project[0] / "config.yml").read_text("utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    assert config["recipe"] == "default.v1" and config["language"] == "zh"
    assert names[0] == "JiebaTokenizer" and "DIETClassifier" in names
    assert names.index("DIETClassifier") < names.index("FallbackClassifier")
    diet = next(c for c in config["pipeline"] if c["name"] == "DIETClassifier")
    assert diet["epochs"] == 100
    assert {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}.items() <= next(
        c for c in config["pipeline"] if c.get("analyzer") == "char_wb"
    ).items()


def test_exporting_into_a_non_empty_dir_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        export_rasa_project(tmp_path)
    assert not (tmp_path / "domain.yml").exists()
    written = export_rasa_project(tmp_path, overwrite=True)
    assert (tmp_path / "domain.yml") in written
    assert (tmp_path / "keep.txt").read_text() == "mine"
