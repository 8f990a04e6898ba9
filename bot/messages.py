"""Channel-neutral messages. Adapters turn platform updates into `Inbound` and render
`Outbound` as well as their platform can; dialogs only ever see these types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode


@dataclass(frozen=True)
class Inbound:
    channel: str  # "web", "telegram", "wechat"
    chat_id: str  # the customer's id on that channel
    message_id: str  # the platform's message id, for de-duplication
    text: str = ""
    payload: str | None = None  # a pressed button or a numbered choice
    display_name: str = ""
    contact_phone: str | None = None
    # kept as evidence: "<channel>[-<kind>]:<id>", a photo unless the kind says otherwise
    # ("telegram:<file_id>", "wechat-voice:<media_id>")
    attachments: tuple[str, ...] = ()
    pressed: str | None = None  # the channel's handle on the message whose button was pressed
    language: str | None = None  # the customer's app language, until they show their own
    # What this interaction lets the shop send afterwards on platforms that limit it (WeChat:
    # 5 messages within 48 h of a message): (messages, seconds). None: no such rule.
    window: tuple[int, float] | None = None

    def cleaned(self) -> Inbound:
        """The message without what no channel should pass on: control characters (a NUL
        byte cannot even be stored by PostgreSQL) and lone UTF-16 surrogates (which no reply
        or log can encode). A lone surrogate becomes U+FFFD, the rest is dropped."""
        return replace(
            self,
            text=clean_text(self.text),
            payload=clean_text(self.payload) if self.payload is not None else None,
            display_name=clean_text(self.display_name),
            contact_phone=clean_text(self.contact_phone) if self.contact_phone else None,
            attachments=tuple(clean_text(a) for a in self.attachments),
        )


_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value: str) -> str:
    if not _UNSAFE.search(value):
        return value
    return _UNSAFE.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else "", value)


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class Card:
    title: str
    subtitle: str = ""
    image: str = ""  # media path ("catalog/TS-001.png") or absolute URL
    price: str = ""
    stock: str = ""
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Link:
    url: str
    label: str
    order: str = ""  # set when the link pays this order, so channels may offer in-app payment


@dataclass(frozen=True)
class Outbound:
    text: str = ""
    buttons: tuple[Button, ...] = ()
    cards: tuple[Card, ...] = ()
    link: Link | None = None
    image: str = ""
    replace: bool = False  # an updated view of what the pressed button was on (next page, cart)
    ask_contact: bool = False  # the question is a phone number: offer "share my contact"
    question: bool = False  # its buttons answer a one-time question (confirm? how many?)
    # the phone question is over (answered, or the customer moved on): a channel that offered
    # "share my contact" with it takes that offer away
    contact_done: bool = False

    def to_dict(self) -> dict[str, Any]:
        # Hand-written: dataclasses.asdict deep-copies recursively and shows up in profiles.
        return {
            "text": self.text,
            "buttons": [_button(b) for b in self.buttons],
            "cards": [
                {
                    "title": c.title,
                    "subtitle": c.subtitle,
                    "image": c.image,
                    "price": c.price,
                    "stock": c.stock,
                    "buttons": [_button(b) for b in c.buttons],
                }
                for c in self.cards
            ],
            "link": _link(self.link) if self.link else None,
            "image": self.image,
            "replace": self.replace,
            "ask_contact": self.ask_contact,
            "question": self.question,
            "contact_done": self.contact_done,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outbound:
        return cls(
            text=data.get("text", ""),
            buttons=tuple(Button(**b) for b in data.get("buttons", ())),
            cards=tuple(
                Card(**{**c, "buttons": tuple(Button(**b) for b in c.get("buttons", ()))})
                for c in data.get("cards", ())
            ),
            link=Link(**data["link"]) if data.get("link") else None,
            image=data.get("image", ""),
            replace=data.get("replace", False),
            ask_contact=data.get("ask_contact", False),
            question=data.get("question", False),
            contact_done=data.get("contact_done", False),
        )


def _link(link: Link) -> dict[str, str]:
    return {"url": link.url, "label": link.label, "order": link.order}


def _button(button: Button) -> dict[str, str]:
    return {"label": button.label, "payload": button.payload}


@dataclass(frozen=True)
class Action:
    """A structured request: what a button carries, or what NLU made of free text."""

    name: str
    args: dict[str, str] = field(default_factory=dict)

    def encode(self) -> str:
        return f"{self.name}?{urlencode(self.args)}" if self.args else self.name

    @classmethod
    def decode(cls, payload: str) -> Action:
        name, _, query = payload.strip().partition("?")
        return cls(name, dict(parse_qsl(query)))


def payload(name: str, **args: object) -> str:
    return Action(name, {k: str(v) for k, v in args.items()}).encode()
