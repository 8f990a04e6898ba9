from pathlib import Path

import numpy as np

from nlu.embedded import DATA_DIR
from nlu.rasa_yaml import load_examples, strip_annotations


def test_rasa_annotations_are_stripped_with_spans() -> None:
    text, entities = strip_annotations(
        '来[两件](quantity)[红色]{"entity": "color", "value": "red"}的'
    )
    assert text == "来两件红色的"
    assert entities == (("quantity", "两件", 1, 3), ("color", "red", 3, 5))


def test_fast_inference_matches_the_fitted_model(interpreter) -> None:
    examples = (
        load_examples(DATA_DIR / "test" / "en.yml")[:100]
        + load_examples(DATA_DIR / "test" / "zh.yml")[:100]
    )
    for example in examples:
        text = interpreter.features_text(example.text)
        expected = interpreter._model.predict_proba([text])[0]
        assert np.allclose(interpreter._fast.predict_proba(text), expected, atol=1e-9)


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


def test_a_cached_model_loads_without_retraining_and_parses_the_same(tmp_path, interpreter) -> None:
    from nlu.embedded import EmbeddedInterpreter

    first = EmbeddedInterpreter.load_or_train(tmp_path)
    cached = EmbeddedInterpreter.load_or_train(tmp_path)
    assert cached._model is None  # loaded, not trained
    for text in ["有没有红色的T恤", "my orders", "asdf"]:
        assert cached.parse(text).ranking == first.parse(text).ranking
    assert len(list(tmp_path.glob("intent-model-*.pkl"))) == 1


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
