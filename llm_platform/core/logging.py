"""Structured logging (structlog) for the app and the libraries it uses.

Every line carries the request id bound by the request-id middleware. Secrets never reach
a log line: settings hold them as `SecretStr`, the redaction processor masks any key-looking
field of an event dict, and every rendered line (tracebacks and library messages included)
goes through `redact_text`, which masks API keys (`lp_`, `sk-`), participant tokens (`pt_`),
Bearer values and the values of credential headers.

Tracebacks never carry local variables, in any format: a traceback with locals is megabytes
per error (the request scope, the app, the settings...) and takes seconds to render, during
which the event loop stands still.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from typing import Any

import structlog

from llm_platform.core.config import LogFormat, Settings

_SECRET_KEYS = re.compile(r"(api[_-]?key|authorization|secret|password|token|cookie)$", re.I)
_SECRET_VALUES = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|lp_[A-Za-z0-9_\-]{8,})")
# What is masked in a rendered line: key-shaped values, and the value of a credential header
# or field however it is written (`Authorization: x`, `'cookie': 'x'`, `(b'x-api-key', b'x')`).
_SECRET_TEXT = re.compile(
    r"(?P<key>\b(?:sk-|lp_|pt_))[A-Za-z0-9_\-.~+/=]{6,}"
    r"|(?P<bearer>\bBearer\s+)[^\s'\",;)\]}]+"
    r"|(?P<header>\b(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|"
    r"x-participant-token|api[_-]?key)\b['\"]?\s*[:=,]\s*(?:b?['\"])?(?:(?:Bearer|Basic)\s+)?)"
    r"[^\s'\",;)\]}]+",
    re.I,
)


def _mask(match: re.Match[str]) -> str:
    prefix = match.group("key") or match.group("bearer") or match.group("header") or ""
    return prefix + "***"


def redact_text(text: str) -> str:
    """Mask credentials in free text (a rendered log line, an exception message)."""
    return _SECRET_TEXT.sub(_mask, text)


def _redact_rendered(_: Any, __: str, line: Any) -> Any:
    """The last step of the formatter: the rendered line (str, or bytes) with secrets masked."""
    if isinstance(line, bytes):
        return redact_text(line.decode("utf-8", "replace")).encode()
    return redact_text(line)


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event_dict.items()):
        if _SECRET_KEYS.search(key) and key not in {"prompt_tokens", "completion_tokens"}:
            event_dict[key] = "***"
        elif isinstance(value, str):
            event_dict[key] = _SECRET_VALUES.sub("***", value)
    return event_dict


def configure_logging(settings: Settings) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    # Exceptions are rendered by the formatter (built anew by each call), not by the
    # structlog chain (which loggers cached by an earlier configuration keep).
    rendering: list[Any]
    if settings.LOG_FORMAT is LogFormat.JSON:
        rendering = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # plain_traceback: the standard library's traceback, without locals (structlog's
        # default uses rich with show_locals when rich is installed, as typer installs it).
        rendering = [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]

    structlog.configure(
        # filter_by_level first: a disabled level costs a check, not the whole chain.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *rendering,
            _redact_rendered,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.LOG_LEVEL)
    # uvicorn's access log duplicates our request log line.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # aiosqlite (the agents' checkpointer on SQLite) logs every statement at DEBUG.
    logging.getLogger("aiosqlite").setLevel(max(root.level, logging.INFO))
    # A 500 is logged once, by the app's error handler; the server's copy of the same
    # traceback (Starlette re-raises after answering) is dropped.
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _AlreadyLogged) for f in error_log.filters):
        error_log.addFilter(_AlreadyLogged())


LOGGED_MARK = "_llm_platform_logged"


def mark_logged(exc: BaseException) -> None:
    """Flag an exception whose traceback was logged, so later handlers do not log it again."""
    with contextlib.suppress(AttributeError):  # exceptions with __slots__
        setattr(exc, LOGGED_MARK, True)


class _AlreadyLogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and getattr(exc, LOGGED_MARK, False))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
