"""Intent and entity evaluation on Rasa YAML or JSONL data (`chatshop nlu evaluate`).

Entity F1 counts a predicted entity as right when its type matches a gold entity and either
the spans overlap or the normalized values are equal (case-insensitive); each gold entity
can be matched once. Only the entity types the shop uses are scored.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from nlu.rasa_yaml import Example, load_examples
from nlu.types import Entity, Interpreter

SCORED_ENTITIES = frozenset(
    [
        "product",
        "category",
        "brand",
        "color",
        "size",
        "quantity",
        "price_min",
        "price_max",
        "order_id",
        "phone",
        "name",
        "address",
        "tracking_number",
    ]
)
DEFAULT_DATA = Path(__file__).with_name("data") / "test"


class DatasetError(Exception):
    """The evaluation data could not be read."""


def read_dataset(path: Path) -> list[Example]:
    """Rasa YAML (`.yml`/`.yaml`) or JSONL lines `{"text", "intent", "entities"?}`."""
    try:
        if path.is_dir():
            return [e for p in sorted(path.glob("*.y*ml")) for e in load_examples(p)]
        if path.suffix.lower() in (".yml", ".yaml"):
            examples = load_examples(path)
        else:
            examples = [
                _from_json(line) for line in path.read_text("utf-8").splitlines() if line.strip()
            ]
    except (
        OSError,
        UnicodeDecodeError,
        yaml.YAMLError,
        json.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
    ) as error:
        raise DatasetError(f"cannot read {path}: {error}") from None
    if not examples:
        raise DatasetError(f"no labelled examples in {path}")
    return examples


def _from_json(line: str) -> Example:
    data = json.loads(line)
    entities = tuple(
        (str(e["entity"]), str(e.get("value", "")), int(e.get("start", -1)), int(e.get("end", -1)))
        for e in data.get("entities") or []
    )
    return Example(str(data["text"]), str(data["intent"]), entities)


def evaluate(interpreter: Interpreter, examples: list[Example]) -> dict[str, Any]:
    """The report `chatshop nlu evaluate --json` prints."""
    gold_intents, predicted = [], []
    tp = fp = fn = 0
    for example in examples:
        parse = interpreter.parse(example.text)
        gold_intents.append(example.intent)
        predicted.append(parse.intent)
        hits, wrong, missed = _match_entities(example.entities, parse.entities)
        tp, fp, fn = tp + hits, fp + wrong, fn + missed
    per_intent = _per_intent(gold_intents, predicted)
    confusions = Counter((g, p) for g, p in zip(gold_intents, predicted, strict=True) if g != p)
    correct = sum(g == p for g, p in zip(gold_intents, predicted, strict=True))
    supported = [v for v in per_intent.values() if v["support"]]
    return {
        "examples": len(examples),
        "intent_accuracy_pct": _pct(correct, len(examples)),
        "intent_macro_f1_pct": round(
            sum(v["f1_pct"] for v in supported) / max(1, len(supported)), 2
        ),
        "entity_f1_pct": _pct(2 * tp, 2 * tp + fp + fn),
        "entity_counts": {"true_positive": tp, "false_positive": fp, "false_negative": fn},
        "per_intent": per_intent,
        "confusions": [[g, p, n] for (g, p), n in confusions.most_common(10)],
    }


def _match_entities(
    gold: tuple[tuple[str, str, int, int], ...], found: tuple[Entity, ...]
) -> tuple[int, int, int]:
    wanted = [g for g in gold if g[0] in SCORED_ENTITIES]
    free = list(wanted)
    hits = 0
    for entity in (e for e in found if e.type in SCORED_ENTITIES):
        match = next(
            (
                g
                for g in free
                if g[0] == entity.type
                and (
                    (g[2] < entity.end and entity.start < g[3])
                    or g[1].lower() == entity.value.lower()
                )
            ),
            None,
        )
        if match is not None:
            free.remove(match)
            hits += 1
    predicted = sum(1 for e in found if e.type in SCORED_ENTITIES)
    return hits, predicted - hits, len(wanted) - hits


def _per_intent(gold: list[str], predicted: list[str]) -> dict[str, dict[str, float]]:
    report = {}
    for intent in sorted(set(gold) | set(predicted)):
        tp = sum(g == p == intent for g, p in zip(gold, predicted, strict=True))
        precision = tp / max(1, predicted.count(intent))
        recall = tp / max(1, gold.count(intent))
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[intent] = {
            "precision_pct": round(precision * 100, 2),
            "recall_pct": round(recall * 100, 2),
            "f1_pct": round(f1 * 100, 2),
            "support": gold.count(intent),
        }
    return report


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"examples            {report['examples']}",
        f"intent accuracy     {report['intent_accuracy_pct']:.2f} %",
        f"intent macro F1     {report['intent_macro_f1_pct']:.2f} %",
        f"entity F1           {report['entity_f1_pct']:.2f} %",
        "",
        f"{'intent':24} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}",
    ]
    for intent, row in report["per_intent"].items():
        lines.append(
            f"{intent:24} {row['precision_pct']:9.1f} {row['recall_pct']:7.1f} "
            f"{row['f1_pct']:7.1f} {row['support']:8d}"
        )
    if report["confusions"]:
        lines += ["", "most confused (gold → predicted):"]
        lines += [f"  {g} → {p}: {n}" for g, p, n in report["confusions"]]
    return "\n".join(lines)
