"""The embedded interpreter: a linear classifier over character and word n-grams, trained
at start-up from the Rasa-format data in nlu/data, plus rule-based entities."""

from __future__ import annotations

import re
from pathlib import Path

import jieba
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from nlu.entities import EntityExtractor
from nlu.language import detect_language
from nlu.rasa_yaml import Example, load_examples
from nlu.types import Parse, ParseContext

DATA_DIR = Path(__file__).with_name("data")
_DIGITS = re.compile(r"\d+")
_HAN = re.compile(r"[\u3400-\u9fff]")


def training_files(data_dir: Path = DATA_DIR) -> list[Path]:
    return sorted(data_dir.glob("*/nlu.yml"))


def _normalize(text: str) -> str:
    return _DIGITS.sub("0", text.lower().strip())


def _words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text) if w.strip()] if _HAN.search(text) else text.split()


class EmbeddedInterpreter:
    """Trains in about a second; parse is pure CPU, a fraction of a millisecond."""

    def __init__(self, examples: list[Example] | None = None, default_language: str = "zh") -> None:
        if examples is None:
            examples = [e for path in training_files() for e in load_examples(path)]
        self.entities = EntityExtractor()
        self.default_language = default_language
        self._model = Pipeline(
            [
                (
                    "features",
                    FeatureUnion(
                        [
                            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=1)),
                            ("words", TfidfVectorizer(analyzer=_words, sublinear_tf=True)),
                        ]
                    ),
                ),
                ("clf", LogisticRegression(C=20, max_iter=3000)),
            ]
        )
        self._model.fit([_normalize(e.text) for e in examples], [e.intent for e in examples])
        self.intents: list[str] = list(self._model.classes_)

    def parse(self, text: str, context: ParseContext | None = None) -> Parse:
        probabilities = self._model.predict_proba([_normalize(text)])[0]
        ranked = sorted(zip(self.intents, probabilities), key=lambda p: -p[1])[:5]
        return Parse(
            intent=ranked[0][0],
            confidence=float(ranked[0][1]),
            entities=tuple(self.entities.extract(text)),
            language=detect_language(text, self.default_language),
            ranking=tuple((i, float(p)) for i, p in ranked),
        )
