"""Logging set-up: one handler on the root logger that never prints a secret or personal data.

Our own packages log at CHATSHOP_LOG_LEVEL; third-party libraries print warnings and errors
only, because at INFO and DEBUG several of them print whole requests: httpx every Bot API URL
(the bot token is part of it), python-telegram-bot every call's parameters and answers
(customers' messages, names, phone numbers, addresses), urllib3 WeChat's URLs (the app secret,
the access token), wechatpy.pay its request bodies. Every line that is printed then passes
through `Redactor`: configured secrets and secret-shaped strings become ***, and an exception
shows its message only when its type cannot carry customer text (`describe`).
"""

from __future__ import annotations

import io
import logging
import re
import threading
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

from bot.config import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
OURS = frozenset({"bot", "store", "scheduler", "nlu", "dialogs", "chatshop", "__main__"})
# Chatty or request-printing libraries: held at WARNING so their lines are not even built.
QUIET = (
    "alembic", "apscheduler", "httpx", "httpcore", "urllib3", "requests", "telegram",
    "wechatpy", "uvicorn.access", "multipart", "python_multipart",
)  # fmt: skip
SECRET_SETTINGS = (
    "telegram_bot_token", "telegram_webhook_secret", "telegram_payment_provider_token",
    "wechat_app_secret", "wechat_token", "wechat_aes_key", "wechat_pay_api_key",
    "sandbox_secret", "secret_key",
)  # fmt: skip
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words all over the log
_KEYS = (
    r"access_token|refresh_token|appsecret|secret|secret_token|provider_token|api_?key|key"
    r"|password|passwd|token"
)
PATTERNS = (
    (re.compile(r"\d{3,}:[A-Za-z0-9_-]{35,}"), MASK),  # a Telegram bot token, anywhere
    # name=value in a query string, 'name': 'value' in a dict, "name": "value" in JSON
    (re.compile(rf"(?i)\b({_KEYS})(=|['\"]?\s*:\s*['\"]?)[^&\s'\",}}<]+"), rf"\1\2{MASK}"),
    (re.compile(r"(://[^/\s:@]*:)[^/\s@]+@"), rf"\1{MASK}@"),  # a password in a URL
    (re.compile(r"(?<![\d+])(?:\+?86[-\s]?)?1[3-9]\d{9}(?!\d)"), MASK),  # a mainland mobile
    (re.compile(r"\+\d{8,15}(?!\d)"), MASK),  # an international phone number
)
# Exception types whose message comes from the network, a platform or one of our rules, never
# from a customer's text; any other exception is logged with its type and stack only.
TELLING = frozenset({
    "builtins.OSError", "builtins.AttributeError", "builtins.TypeError", "builtins.NameError",
    "builtins.ImportError", "builtins.IndexError", "builtins.NotImplementedError",
    "builtins.RecursionError", "builtins.ArithmeticError", "asyncio.exceptions.CancelledError",
    "telegram.error.TelegramError", "wechatpy.exceptions.WeChatException",
    "httpx.HTTPError", "sqlalchemy.exc.OperationalError",
    "sqlalchemy.exc.InterfaceError", "sqlalchemy.exc.TimeoutError",
    "store.errors.DomainError", "store.wechat_pay.WeChatPayError", "bot.channels.wechat.Rejected",
})  # fmt: skip
WITHHELD = "(message withheld: it may contain customer data)"
UNRENDERABLE = "it could not be rendered and checked for secrets"
CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"

_remembered: deque[str] = deque(maxlen=32)
_remembered_lock = threading.Lock()


def remember_secret(value: str) -> None:
    """Mask `value` from now on too: a secret learnt at run time, such as an access token."""
    if len(value) >= MIN_SECRET_LENGTH:
        with _remembered_lock:
            if value not in _remembered:
                _remembered.append(value)


def secrets_of(settings: Settings) -> list[str]:
    return [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]


class Redactor(logging.Filter):
    """Renders a record once (message with its arguments, exception, stack) and masks secrets
    in the result; the record then carries only the masked text, for every handler after."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}

    def redact(self, text: str) -> str:
        with _remembered_lock:
            known = self.secrets.union(_remembered)
        variants = known | {quote(s, safe="") for s in known} | {quote(s) for s in known}
        for secret in sorted(variants, key=len, reverse=True):  # one inside another goes whole
            text = text.replace(secret, MASK)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._mask(record)
        except Exception:  # a log call must never raise, nor print what it could not check
            record.msg, record.args = f"{record.levelname} line withheld: {UNRENDERABLE}", None
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True

    def _mask(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: they may be anything
            message = f"{record.msg} (arguments left out: they do not fit the message)"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text, record.exc_info = describe(record.exc_info[1]), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


class LibraryWarningsOnly(logging.Filter):
    """Below WARNING, only our own packages' records pass: a library that was not quietened
    by name still cannot print its requests."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".")[0] in OURS


def configure(settings: Settings, handler: logging.Handler | None = None) -> logging.Handler:
    """Log to stderr (or `handler`) at CHATSHOP_LOG_LEVEL with the filters above; replaces a
    handler an earlier call installed. Returns the handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if _redactor_of(h)]:
        root.removeHandler(old)
    handler = handler or logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(LibraryWarningsOnly())
    handler.addFilter(Redactor(secrets_of(settings)))
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


@contextmanager
def captured(settings: Settings) -> Iterator[io.StringIO]:
    """Everything logged during the block, as `configure` prints it (for tests); the logging
    set-up from before is restored afterwards."""
    root = logging.getLogger()
    before = (root.level, list(root.handlers), {n: logging.getLogger(n).level for n in QUIET})
    out = io.StringIO()
    configure(settings, logging.StreamHandler(out))
    try:
        yield out
    finally:
        level, handlers, quiet = before
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)


def redact(text: str) -> str:
    """`text` with the configured secrets and secret-shaped strings masked, for messages that
    are printed rather than logged (the CLI's errors)."""
    installed = (_redactor_of(h) for h in logging.getLogger().handlers)
    return next((r for r in installed if r), Redactor()).redact(text)


def _redactor_of(handler: logging.Handler) -> Redactor | None:
    return next((f for f in handler.filters if isinstance(f, Redactor)), None)


def describe(error: BaseException) -> str:
    """The traceback Python would print, with each message that may hold customer text left
    out (see TELLING); causes and contexts included, oldest first."""
    chain: list[tuple[BaseException, str]] = []  # newest first, each with how it follows on
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            older, sentence = current.__cause__, CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            older, sentence = current.__context__, CONTEXT
        else:
            older, sentence = None, ""
        chain.append((current, sentence))
        current = older
    parts: list[str] = []
    for index in range(len(chain) - 1, -1, -1):
        exc, _ = chain[index]
        if exc.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        parts.append(_last_line(exc))
        if index:
            parts.append(chain[index - 1][1])
    return "".join(parts).rstrip("\n")


def _last_line(error: BaseException) -> str:
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    telling = any(f"{k.__module__}.{k.__qualname__}" in TELLING for k in kind.__mro__)
    try:
        text = str(error) if telling else WITHHELD
    except Exception:  # a broken __str__
        text = "(unprintable message)"
    return f"{name}: {text}\n" if text else f"{name}\n"
