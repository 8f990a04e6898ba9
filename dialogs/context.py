"""What a flow step receives (Ctx) and returns (Turn)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.messages import Button, Outbound, payload
from dialogs.i18n import t
from dialogs.state import DialogState
from nlu.types import Parse
from store.shop import Shop


@dataclass
class Turn:
    replies: list[Outbound]
    state: DialogState


@dataclass
class Ctx:
    shop: Shop
    state: DialogState
    lang: str
    text: str = ""
    args: dict[str, str] = field(default_factory=dict)
    parse: Parse | None = None
    contact_phone: str | None = None
    support_contact: str = ""  # how to reach the shop's people, until agents take chats

    def t(self, key: str, **params: Any) -> str:
        return t(self.lang, key, **params)

    def button(self, label_key: str, action: str, **args: object) -> Button:
        return Button(self.t(f"buttons.{label_key}"), payload(action, **args))

    def button_text(self, label: str, action: str, **args: object) -> Button:
        return Button(label, payload(action, **args))

    def say(self, key: str, *buttons: Button, **params: Any) -> Outbound:
        return Outbound(text=self.t(key, **params), buttons=tuple(buttons))

    def ask(self, key: str, *buttons: Button, **params: Any) -> Outbound:
        """A one-time question: once answered, channels may retire its buttons."""
        return Outbound(text=self.t(key, **params), buttons=tuple(buttons), question=True)

    def entity(self, name: str) -> str | None:
        return self.parse.first(name) if self.parse else None

    def int_arg(self, name: str) -> int | None:
        """A whole-number argument from a button, or an entity from free text."""
        return whole_number(self.args.get(name) or self.entity(name))


def whole_number(raw: str | None, scale: int = 1) -> int | None:
    """A number someone sent ("2", "2.0"), times `scale`, or None for anything else: "inf",
    "1e400", "nan" and "²" (a digit to str.isdigit, but not a number) included."""
    try:
        number = float(raw) * scale if raw is not None else math.nan
    except ValueError:
        return None
    return int(number) if math.isfinite(number) else None


Handler = Callable[[Ctx], list[Outbound]]
