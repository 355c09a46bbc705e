"""The library's events, forwarded to `logging.getLogger("tokenclient")`.

One forwarder serves every client: it reads the event's level and its JSON
form (`tokenclient_event_json`, numbers already numbers) and logs one
record, whose message is `name key=value ...` and whose `extra` holds
`event` (the name) and every field under its own key. Events never hold a
secret (the core builds them from names, numbers, the endpoint without its
query, the scope and the OAuth error code).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional, Tuple

from . import _ffi

LOGGER = logging.getLogger("tokenclient")

#: (Python logging level, the C level of the events at that level and above),
#: most verbose first.
_LEVELS: Tuple[Tuple[int, int], ...] = (
    (logging.DEBUG, _ffi.LOG_DEBUG),
    (logging.INFO, _ffi.LOG_INFO),
    (logging.WARNING, _ffi.LOG_WARN),
    (logging.ERROR, _ffi.LOG_ERROR),
)
_PYTHON_LEVEL = {c_level: py_level for py_level, c_level in _LEVELS}

#: Names `extra` may not use: a LogRecord's own attributes, and the two
#: that `Logger.makeRecord` refuses besides.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def c_level(level: Optional[int]) -> Optional[int]:
    """The C level that forwards every event logged at Python `level` or
    above; None for None, or a level above every event's."""
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"level must be a logging level (an int) or None, not {type(level).__name__}")
    return next((c for py, c in _LEVELS if level <= py), None)


def logger_c_level() -> Optional[int]:
    """The C level of the events the "tokenclient" logger is enabled for
    now; None when it is disabled even for errors."""
    return next((c for py, c in _LEVELS if LOGGER.isEnabledFor(py)), None)


def _shown(value: Any) -> str:
    """A field's value in a message: as is, or quoted when it is empty or
    holds a space, a quote or '='."""
    text = str(value)
    if text and not any(ch.isspace() or ch in '"=' for ch in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def record_parts(event: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """(message, extra) of a record for an event's JSON object. A field
    whose name a LogRecord already has goes in `extra` as `tokenclient_<name>`."""
    fields = {name: value for name, value in event.items() if name not in ("level", "event")}
    message = " ".join([str(event.get("event", ""))] + [f"{name}={_shown(v)}" for name, v in fields.items()])
    extra = {("tokenclient_" + name if name in _RESERVED else name): value
             for name, value in event.items() if name != "level"}
    return message, extra


def _forward(_user_data: Optional[int], event: Optional[int]) -> None:
    """The log callback: one record a call. Nothing may unwind into C, so
    every exception (from a handler or filter too) is dropped."""
    try:
        level = _PYTHON_LEVEL.get(_ffi.lib.tokenclient_event_level(event), logging.WARNING)
        if LOGGER.isEnabledFor(level):
            message, extra = record_parts(json.loads(_ffi.lib.tokenclient_event_json(event)))
            LOGGER.log(level, message, extra=extra)
    except BaseException:  # noqa: BLE001,S110 - nothing may unwind into C
        pass


#: The one C trampoline of `_forward`, for every client. A module global, so
#: it lives as long as the module: a C call in flight may still hold it
#: after a client re-installs or removes it.
FORWARDER = _ffi.LOG_CALLBACK(_forward)
#: What removes a client's callback (a NULL function pointer).
NO_FORWARDER = _ffi.LOG_CALLBACK()

