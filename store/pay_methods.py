"""Which ways to pay a customer is offered, by channel.

The sandbox marks an order paid with no money moving, so it is a demo tool: it is offered
only where the shop's `SandboxMode` allows, and never beside a real way to pay unless the
merchant asked for that."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from store.payments import PaymentProvider, SandboxProvider


class SandboxMode(enum.StrEnum):
    OFF = "off"  # a real shop: the sandbox is never offered and its pages do not exist
    FALLBACK = "fallback"  # the demo: only on channels that have no real way to pay
    ON = "on"  # the merchant asked for it: offered on every channel, beside real providers


@dataclass(frozen=True)
class PayMethods:
    """What one channel's customers can pay with."""

    link: PaymentProvider | None = None  # a page the payment link opens
    native: bool = False  # the channel's own way: a Telegram invoice, a WeChat Pay QR code

    @property
    def available(self) -> bool:
        return self.link is not None or self.native


@dataclass(frozen=True)
class PaymentSetup:
    sandbox: SandboxProvider | None = None  # None when the mode is OFF
    mode: SandboxMode = SandboxMode.OFF
    links: Mapping[str, PaymentProvider] = field(default_factory=dict)  # channel → real page
    native: frozenset[str] = frozenset()  # channels with a way to pay of their own

    def for_channel(self, channel: str) -> PayMethods:
        link = self.links.get(channel)
        native = channel in self.native
        if link is None and self.sandbox is not None and self._sandbox_here(link, native):
            link = self.sandbox
        return PayMethods(link, native)

    def _sandbox_here(self, link: PaymentProvider | None, native: bool) -> bool:
        if self.mode == SandboxMode.ON:
            return True
        return self.mode == SandboxMode.FALLBACK and link is None and not native

    @property
    def real(self) -> bool:
        """Can any channel take real money?"""
        return bool(self.links) or bool(self.native)
