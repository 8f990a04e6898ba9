import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from nlu.embedded import DATA_DIR, EmbeddedInterpreter, training_files
from nlu.rasa_yaml import load_examples, strip_annotations


def test_rasa_annotations_are_stripped_with_spans() -> None:
    text, entities = strip_annotations(
        '来[两件](quantity)[红色]{"entity": "color", "value": "red"}的'
    )
    assert text == "来两件红色的"
    assert entities == (("quantity", "两件", 1, 3), ("color", "red", 3, 5))


@pytest.fixture(scope="module")
def few_shot_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Training data in Rasa's format: a few examples of a few intents in both languages. A
    model trained on it in a moment runs the same code as the full one (which takes 20 s+)."""
    root = tmp_path_factory.mktemp("nlu-data")
    for path in training_files():
        by_intent: dict[str, list[str]] = {}
        for example in load_examples(path):
            by_intent.setdefault(example.intent, []).append(example.text)
        blocks = [
            {"intent": intent, "examples": "".join(f"- {t}\n" for t in texts[:4])}
            for intent, texts in list(by_intent.items())[:6]
        ]
        target = root / path.parent.name / "nlu.yml"
        target.parent.mkdir()
        target.write_text(yaml.safe_dump({"nlu": blocks}, allow_unicode=True), "utf-8")
    return root


def test_fast_inference_matches_the_fitted_model(tmp_path, few_shot_data) -> None:
    trained = EmbeddedInterpreter.load_or_train(tmp_path, data_dir=few_shot_data)
    examples = (
        load_examples(DATA_DIR / "test" / "en.yml")[:100]
        + load_examples(DATA_DIR / "test" / "zh.yml")[:100]
    )
    for example in examples:
        text = trained.features_text(example.text)
        expected = trained._model.predict_proba([text])[0]
        assert np.allclose(trained._fast.predict_proba(text), expected, atol=1e-9)


def test_parse_reports_intent_ranking_entities_and_language(interpreter) -> None:
    parse = interpreter.parse("有没有红色的T恤")
    assert parse.intent == "search_product" and parse.language == "zh"
    assert parse.ranking[0][0] == "search_product" and 0 < parse.confidence <= 1
    assert parse.first("color") == "red"
    assert interpreter.parse("running shoes under 500").first("price_max") == "500"


def test_held_out_split_is_never_trained_on() -> None:
    train = {e.text.lower() for p in Path(DATA_DIR).glob("*/nlu.yml") for e in load_examples(p)}
    test = {e.text.lower() for p in (DATA_DIR / "test").glob("*.yml") for e in load_examples(p)}
    assert train and test and not train & test


def test_character_ngrams_match_scikit_learns_char_wb() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nlu.embedded import CHAR_NGRAMS, char_wb_ngrams

    analyze = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS).build_analyzer()
    for text in ["有没有红色的t恤", "running  shoes\tunder 0", "a", "", "x y", "👍👍 ok"]:
        assert char_wb_ngrams(text) == analyze(text)


def test_a_cached_model_loads_without_retraining_and_parses_the_same(
    tmp_path, few_shot_data
) -> None:
    first = EmbeddedInterpreter.load_or_train(tmp_path, data_dir=few_shot_data)
    cached = EmbeddedInterpreter.load_or_train(tmp_path, data_dir=few_shot_data)
    assert first._model is not None and cached._model is None  # trained, then loaded
    for text in ["有没有红色的T恤", "my orders", "asdf"]:
        assert cached.parse(text).ranking == first.parse(text).ranking
    assert len(list(tmp_path.glob("intent-model-*.pkl"))) == 1


def test_changed_training_data_is_trained_again_and_replaces_the_old_model(
    tmp_path, few_shot_data
) -> None:
    data = shutil.copytree(few_shot_data, tmp_path / "data")
    EmbeddedInterpreter.load_or_train(tmp_path / "cache", data_dir=data)
    [old] = (tmp_path / "cache").glob("intent-model-*.pkl")
    with (data / "en" / "nlu.yml").open("a", encoding="utf-8") as fh:
        fh.write("- intent: greet\n  examples: |\n    - good day to you\n")
    retrained = EmbeddedInterpreter.load_or_train(tmp_path / "cache", data_dir=data)
    assert retrained._model is not None
    assert [p.name for p in (tmp_path / "cache").glob("intent-model-*.pkl")] != [old.name]
    assert len(list((tmp_path / "cache").glob("intent-model-*.pkl"))) == 1


def test_shop_vocabulary_is_masked_to_entity_types_for_the_classifier(interpreter) -> None:
    assert interpreter.features_text("两件红色的T恤") == interpreter.features_text("三件蓝色的T恤")
    assert "color" in interpreter.features_text("a red one")


def test_new_and_old_order_numbers_look_the_same_to_the_classifier(interpreter) -> None:
    old = interpreter.features_text("查一下订单CS100023")
    assert interpreter.features_text("查一下订单CS2611297KQ4M") == old
    for new, former in [
        ("where is cs2611297kq4m", "where is CS100023"),
        ("cancel CS2611297KQ4M", "cancel CS100023"),
        ("查一下订单CS2611297KQ4M", "查一下订单CS100023"),
    ]:
        assert interpreter.parse(new).intent == interpreter.parse(former).intent, new
