"""The NLU contract every backend fulfils."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Entity:
    type: str
    value: str  # normalized: digits for quantities, yuan for prices, E.164-ish phones
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Parse:
    intent: str
    confidence: float
    entities: tuple[Entity, ...] = ()
    language: str = "en"
    ranking: tuple[tuple[str, float], ...] = ()

    def first(self, entity_type: str) -> str | None:
        return next((e.value for e in self.entities if e.type == entity_type), None)


@dataclass(frozen=True)
class ParseContext:
    """What the dialog knows that can sharpen a parse (the slot it is waiting for)."""

    expecting: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Interpreter(Protocol):
    def parse(self, text: str, context: ParseContext | None = None) -> Parse: ...
