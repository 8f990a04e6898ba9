"""Read training data in Rasa's YAML format: intents with [text](entity) annotations."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).with_name("data")
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|\{(?P<json>[^}]+)\})")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[tuple[str, str, int, int], ...]  # type, value, start, end


def strip_annotations(line: str) -> tuple[str, tuple[tuple[str, str, int, int], ...]]:
    """'来[两件](quantity)' → ('来两件', (('quantity', '两件', 1, 3),))."""
    out, entities, pos = [], [], 0
    for m in _ANNOTATION.finditer(line):
        out.append(line[pos : m.start()])
        start = sum(len(p) for p in out)
        surface = m.group("text")
        if m.group("json"):
            meta = json.loads("{" + m.group("json") + "}")
            etype, value = meta["entity"], str(meta.get("value", surface))
        else:
            etype, _, value = m.group("entity").partition(":")
            value = value or surface
        out.append(surface)
        entities.append((etype, value, start, start + len(surface)))
        pos = m.end()
    out.append(line[pos:])
    return "".join(out), tuple(entities)


def load_examples(path: Path) -> list[Example]:
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    examples = []
    for block in data.get("nlu") or []:
        if "intent" not in block:
            continue
        for line in str(block.get("examples", "")).splitlines():
            item = line.strip()
            if item.startswith("- "):
                text, entities = strip_annotations(item[2:].strip())
                if text:
                    examples.append(Example(text, str(block["intent"]), entities))
    return examples


@cache
def lookup_tables(data_dir: Path = DATA_DIR) -> dict[str, list[str]]:
    """Rasa `lookup:` tables from the training files, merged across languages."""
    tables: dict[str, list[str]] = {}
    for path in sorted(data_dir.glob("*/nlu.yml")):
        for block in (yaml.safe_load(path.read_text("utf-8")) or {}).get("nlu") or []:
            if "lookup" in block:
                items = [
                    line.strip()[2:].strip() for line in str(block.get("examples", "")).splitlines()
                ]
                tables.setdefault(str(block["lookup"]), []).extend(i for i in items if i)
    return tables
