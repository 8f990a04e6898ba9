"""Per-conversation dialog state, stored as JSON on the conversation row."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass
class DialogState:
    language: str = ""
    expecting: str = ""  # name | phone | address | address_choice | confirm | quantity | cancel
    form: dict[str, str] = field(default_factory=dict)  # checkout details gathered so far
    search: dict[str, Any] = field(default_factory=dict)  # the last search, for paging/sorting
    shown: list[int] = field(default_factory=list)  # product ids last shown, for "the second one"
    focus: int | None = None  # the product being looked at
    sku: str = ""  # the variant waiting for a quantity
    order: str = ""  # the order number a yes/no refers to
    fallbacks: int = 0  # misunderstandings in a row
    unclear: str = ""  # the message a clarifying question is about

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DialogState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def copy(self) -> DialogState:
        return replace(self, form=dict(self.form), search=dict(self.search), shown=list(self.shown))
