"""The embedded interpreter: a linear classifier over character and word n-grams, trained
at start-up from the Rasa-format data in nlu/data, plus rule-based entities."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jieba
import numpy as np

from nlu.entities import EntityExtractor
from nlu.language import detect_language
from nlu.rasa_yaml import Example, load_examples
from nlu.types import Parse, ParseContext

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)
LEXICON = Path(__file__).resolve().parent.parent / "store" / "lexicon.yml"  # masking uses it
DATA_DIR = Path(__file__).with_name("data")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s\s+")
_HAN = re.compile(r"[\u3400-\u9fff]")


def _data_fingerprint(data_dir: Path = DATA_DIR) -> str:
    digest = hashlib.sha256(MODEL_VERSION.encode() + LEXICON.read_bytes())
    for path in training_files(data_dir):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def training_files(data_dir: Path = DATA_DIR) -> list[Path]:
    return sorted(data_dir.glob("*/nlu.yml"))


def _normalize(text: str) -> str:
    return _DIGITS.sub("0", text.lower().strip())


def _words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text) if w.strip()] if _HAN.search(text) else text.split()


MODEL_VERSION = "5"  # bump when features or the classifier change, to invalidate caches
CHAR_NGRAMS = (1, 4)


def build_model() -> Pipeline:
    """Character 1–4-grams (typos, Chinese without spaces) plus jieba/whitespace words,
    into a multinomial logistic regression (see nlu/README.md for what else was tried)."""
    # Imported here: loading a cached model must not pay for importing scikit-learn.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True)
    words = TfidfVectorizer(analyzer=_words, sublinear_tf=True)
    return Pipeline(
        [
            ("features", FeatureUnion([("chars", chars), ("words", words)])),
            ("clf", LogisticRegression(C=20, max_iter=3000, class_weight="balanced")),
        ]
    )


class EmbeddedInterpreter:
    """The default interpreter: no server, trains in seconds, parses in well under 1 ms."""

    def __init__(
        self,
        examples: list[Example] | None = None,
        default_language: str = "zh",
        weights: LinearModel | None = None,
    ) -> None:
        self._model: Pipeline | None = None  # the scikit-learn model, when trained here
        self.entities = EntityExtractor()
        if weights is None:
            if examples is None:
                examples = [e for path in training_files() for e in load_examples(path)]
            self._model = build_model()
            texts = [self.features_text(e.text) for e in examples]
            self._model.fit(texts, [e.intent for e in examples])
            weights = LinearModel.from_pipeline(self._model)
        self._fast = weights
        self.default_language = default_language
        self.intents: list[str] = weights.classes

    def features_text(self, text: str) -> str:
        """What the classifier sees: entities the shop vocabulary knows replaced by their type
        ('两件红色的T恤' → ' quantity  color 的 product '), so 'a red one' and 'a blue one' teach
        the same thing. Catalog names are left as text: the catalog changes after training."""
        masked = text
        for entity in reversed(self.entities.extract(text, catalog=False)):
            masked = f"{masked[: entity.start]} {entity.type.upper()} {masked[entity.end :]}"
        return _normalize(masked)

    @classmethod
    def load_or_train(
        cls, cache_dir: Path, default_language: str = "zh", data_dir: Path = DATA_DIR
    ) -> EmbeddedInterpreter:
        """Load the model trained on the current data from `cache_dir`, training (and
        caching) it first when the data, the code version or scikit-learn changed.
        `data_dir` is the training data (tests pass a small set to train in a moment)."""
        path = cache_dir / f"intent-model-{_data_fingerprint(data_dir)}.pkl"
        if path.exists():
            try:
                with path.open("rb") as fh:
                    return cls(default_language=default_language, weights=pickle.load(fh))
            except Exception:  # a corrupt or incompatible cache is rebuilt, never fatal
                log.warning("ignoring unreadable NLU model cache %s", path.name)
        examples = [e for file in training_files(data_dir) for e in load_examples(file)]
        interpreter = cls(examples, default_language=default_language)
        interpreter.save(cache_dir, data_dir)
        return interpreter

    def save(self, cache_dir: Path, data_dir: Path = DATA_DIR) -> None:
        """Cache this model where `load_or_train` looks for it (a model trained on the data in
        `data_dir`: a process started with this cache loads it instead of training)."""
        path = cache_dir / f"intent-model-{_data_fingerprint(data_dir)}.pkl"
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(self._fast, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: workers starting together never read half a file
        for old in cache_dir.glob("intent-model-*.pkl"):
            if old != path:
                old.unlink(missing_ok=True)

    def parse(self, text: str, context: ParseContext | None = None) -> Parse:
        probabilities = self._fast.predict_proba(self.features_text(text))
        ranked = sorted(zip(self.intents, probabilities, strict=True), key=lambda p: -p[1])[:5]
        return Parse(
            intent=ranked[0][0],
            confidence=float(ranked[0][1]),
            entities=tuple(self.entities.extract(text, context.expecting if context else "")),
            language=detect_language(text, self.default_language),
            ranking=tuple((i, float(p)) for i, p in ranked),
        )


def char_wb_ngrams(text: str, low: int = CHAR_NGRAMS[0], high: int = CHAR_NGRAMS[1]) -> list[str]:
    """scikit-learn's `char_wb` analyzer: n-grams inside space-padded words (a test pins the
    equivalence), so cached models load without importing scikit-learn."""
    grams = []
    for word in _SPACES.sub(" ", text).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < len(padded):
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:  # the word is shorter than n
                break
    return grams


@dataclass
class LinearModel:
    """What inference needs from the fitted model: vocabularies, idf, weights, classes.

    Scoring one message this way costs tens of microseconds, where scikit-learn's per-call
    validation costs about a millisecond; the arithmetic (sublinear tf-idf, L2 norm per
    feature block, linear scores, softmax) is the same.
    """

    parts: list[tuple[str, dict[str, int], np.ndarray, int]]  # analyzer, vocabulary, idf, offset
    coef: np.ndarray  # features × classes
    intercept: np.ndarray
    classes: list[str]

    @classmethod
    def from_pipeline(cls, model: Pipeline) -> LinearModel:
        parts, offset = [], 0
        for name, vectorizer in model.named_steps["features"].transformer_list:
            parts.append((name, dict(vectorizer.vocabulary_), vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)
        clf = model.named_steps["clf"]
        classes = [str(c) for c in clf.classes_]
        return cls(parts, np.ascontiguousarray(clf.coef_.T), clf.intercept_, classes)

    def predict_proba(self, text: str) -> np.ndarray:
        scores = self.intercept.copy()
        for name, vocabulary, idf, offset in self.parts:
            grams = char_wb_ngrams(text) if name == "chars" else _words(text)
            counts = Counter(i for i in map(vocabulary.get, grams) if i is not None)
            if not counts:
                continue
            indices = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            weights = np.fromiter((1.0 + math.log(c) for c in counts.values()), float, len(counts))
            weights *= idf[indices]
            weights /= np.linalg.norm(weights)
            scores += weights @ self.coef[indices + offset]
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()
