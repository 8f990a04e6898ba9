"""Customer-facing wording, one YAML file per language in dialogs/responses."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("zh", "en")
_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


@cache
def _responses(language: str) -> dict[str, Any]:
    path = Path(__file__).parent / "responses" / f"{language}.yml"
    return yaml.safe_load(path.read_text("utf-8"))


def t(language: str, key: str, **params: Any) -> str:
    """The text for `key` in `language` (falling back to English), filled with `params`."""
    lang = language if language in LANGUAGES else "en"
    node: Any = _responses(lang)
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None and lang != "en":
        return t("en", key, **params)
    if node is None:
        raise KeyError(f"no response text for {key!r}")
    return str(node).format(**params) if params else str(node)


def money(amount: int, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    value = f"{amount / 100:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency}"
