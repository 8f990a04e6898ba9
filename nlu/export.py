"""Write our NLU training data out as a Rasa 3.x project, ready for `rasa train nlu`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import yaml

from nlu.embedded import training_files
from nlu.rasa_yaml import strip_annotations

# Block kinds of Rasa's `nlu:` list that we carry over, keyed by their name field.
_KINDS = ("intent", "synonym", "lookup", "regex")

CONFIG_YML = """\
# Written by chatshop (nlu/export.py). A pipeline for mixed Chinese and English messages:
# jieba splits Chinese into words, the char n-gram featurizer copes with typos and with
# English words glued to Chinese ones.
recipe: default.v1
assistant_id: chatshop
language: zh

pipeline:
  - name: JiebaTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
  - name: EntitySynonymMapper
  - name: FallbackClassifier
    threshold: 0.3

# chatshop runs its own dialogs and only asks Rasa for /model/parse; a rule policy keeps
# `rasa train` from filling in (and training) the default dialogue policies.
policies:
  - name: RulePolicy
"""

README_MD = """\
# chatshop NLU as a Rasa project

Exported from chatshop's training data (`nlu/data/*/nlu.yml`); re-export after editing
those files rather than editing `data/nlu.yml` here.

Train and serve (Rasa 3.x; `JiebaTokenizer` also needs `pip install jieba`):

```sh
rasa train nlu
rasa run --enable-api --port 5005
```

Check it: `curl -s localhost:5005/model/parse -d '{"text": "有没有红色的T恤"}'`.

Point chatshop at it:

```sh
CHATSHOP_NLU=rasa CHATSHOP_RASA_URL=http://host:5005 chatshop ...
```

If Rasa is slow or down, chatshop answers with its embedded interpreter and retries Rasa
after a short pause.
"""


def export_rasa_project(
    target: Path, overwrite: bool = False, sources: Sequence[Path] | None = None
) -> list[Path]:
    """Writes a Rasa 3.x project (data, domain, config, README) built from our NLU data.

    Args:
        target: Directory to write into; created if missing.
        overwrite: Allow writing into a non-empty directory. Only the exported files are
            replaced; anything else there (e.g. trained models) is left alone.
        sources: Rasa-format NLU files to merge; defaults to our training files.

    Returns:
        The paths written.

    Raises:
        FileExistsError: `target` is non-empty and `overwrite` is false.
    """
    target = Path(target)
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{target} is not empty; pass overwrite=True to replace")
    blocks = _merge_blocks(training_files() if sources is None else sources)
    intents = [name for kind, name in blocks if kind == "intent"]
    entities: dict[str, None] = {}  # insertion-ordered set
    for (kind, _), lines in blocks.items():
        if kind == "intent":
            for line in lines:
                entities.update(dict.fromkeys(e[0] for e in strip_annotations(line)[1]))
    domain = {
        "version": "3.1",
        "intents": intents,
        "entities": list(entities),
        # Rasa wants at least a response and a session config for a full `rasa train`.
        "responses": {"utter_default": [{"text": "抱歉，我没听懂。Sorry, I didn't get that."}]},
        "session_config": {
            "session_expiration_time": 60,
            "carry_over_slots_to_new_session": True,
        },
    }
    files = {
        target / "data" / "nlu.yml": _nlu_yaml(blocks),
        target / "domain.yml": yaml.safe_dump(domain, allow_unicode=True, sort_keys=False),
        target / "config.yml": CONFIG_YML,
        target / "README.md": README_MD,
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, "utf-8")
    return list(files)


def _merge_blocks(sources: Sequence[Path]) -> dict[tuple[str, str], list[str]]:
    """(kind, name) → example lines as written, blocks of the same name merged in order."""
    blocks: dict[tuple[str, str], list[str]] = {}
    for path in sources:
        data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
        for block in data.get("nlu") or []:
            kind = next((k for k in _KINDS if k in block), None)
            if kind is None:
                continue
            lines = blocks.setdefault((kind, str(block[kind])), [])
            for line in str(block.get("examples", "")).splitlines():
                item = line.strip()
                if not item.startswith("- ") or not item[2:].strip():
                    continue
                # Intent examples are kept even when repeated so counts match our data
                # (Rasa drops exact duplicates itself); synonyms, lookups and regexes
                # repeated across languages are listed once.
                if kind == "intent" or item[2:].strip() not in lines:
                    lines.append(item[2:].strip())
    return {key: lines for key, lines in blocks.items() if lines}


def _nlu_yaml(blocks: dict[tuple[str, str], list[str]]) -> str:
    # Written by hand rather than yaml.dump: Rasa's data reads best as `examples: |` blocks,
    # and the annotation syntax must reach Rasa exactly as written in our files.
    out = ['version: "3.1"', "", "nlu:"]
    for (kind, name), lines in blocks.items():
        out.append(f"- {kind}: {json.dumps(name, ensure_ascii=False)}")
        out.append("  examples: |")
        out.extend(f"    - {line}" for line in lines)
        out.append("")
    return "\n".join(out)
