"""NLU benchmark: held-out accuracy per language, entity F1, parse latency, model load and
training time. Prints JSON lines.

    python bench/nlu.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import percentile  # noqa: E402
from nlu.embedded import EmbeddedInterpreter  # noqa: E402
from nlu.evaluate import DEFAULT_DATA, evaluate, read_dataset  # noqa: E402
from store.importer import file_vocabulary  # noqa: E402

SAMPLE = ROOT / "store" / "sample" / "catalog.json"
LOAD_SCRIPT = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from pathlib import Path
from nlu.embedded import EmbeddedInterpreter
interpreter = EmbeddedInterpreter.load_or_train(Path({cache!r}))
interpreter.parse("有没有红色的T恤 running shoes")  # first parse also initializes jieba
print(time.perf_counter() - t0)
"""


def with_sample_catalog(interpreter: EmbeddedInterpreter) -> EmbeddedInterpreter:
    interpreter.entities.set_catalog(*file_vocabulary(SAMPLE))
    return interpreter


def main() -> None:
    started = time.perf_counter()
    interpreter = with_sample_catalog(EmbeddedInterpreter())
    train_s = time.perf_counter() - started
    texts = []
    for lang in ("en", "zh"):
        examples = read_dataset(DEFAULT_DATA / f"{lang}.yml")
        texts += [e.text for e in examples]
        report = evaluate(interpreter, examples)
        print(
            json.dumps(
                {
                    "bench": "nlu",
                    "lang": lang,
                    "examples": report["examples"],
                    "intent_accuracy_pct": report["intent_accuracy_pct"],
                    "intent_macro_f1_pct": report["intent_macro_f1_pct"],
                    "entity_f1_pct": report["entity_f1_pct"],
                }
            ),
            flush=True,
        )
    latencies = []
    for _ in range(5):
        for text in texts:
            t0 = time.perf_counter()
            interpreter.parse(text)
            latencies.append((time.perf_counter() - t0) * 1000)
    with tempfile.TemporaryDirectory() as cache:
        EmbeddedInterpreter.load_or_train(Path(cache))  # writes the cache
        code = LOAD_SCRIPT.format(root=str(ROOT), cache=cache)
        loads = [
            float(subprocess.check_output([sys.executable, "-c", code], text=True))
            for _ in range(3)
        ]
    print(
        json.dumps(
            {
                "bench": "nlu",
                "lang": "all",
                "parses": len(latencies),
                "parse_p50_ms": percentile(latencies, 0.5, 3),
                "parse_p99_ms": percentile(latencies, 0.99, 3),
                "load_s": round(min(loads), 2),
                "load_s_max": round(max(loads), 2),
                "train_s": round(train_s, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
