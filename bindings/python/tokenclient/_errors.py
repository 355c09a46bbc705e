"""Exceptions, one class per `tokenclient_error_kind`."""

from __future__ import annotations

from typing import Optional

from . import _ffi


class TokenClientError(Exception):
    """Base of every tokenclient error. `kind` is the C error kind (an int);
    the message never contains a secret, key, assertion or token."""

    def __init__(self, message: str, kind: int, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        #: The HTTP status of the answer behind the error, 0 when none.
        self.status = status


class InvalidArgumentError(TokenClientError, ValueError):
    """A bad argument: wrong value, bad URL, out-of-range option."""


class KeyFormatError(TokenClientError):
    """The key cannot be used: unreadable, encrypted, public, too weak, or
    not fitting the algorithm. (Deliberately not a subclass of KeyError.)"""


class ConfigError(TokenClientError):
    """Missing credentials, or a method that does not fit them."""


class TransportError(TokenClientError):
    """DNS, connect, TLS, timeout, or a response over the size limit."""


class HTTPError(TokenClientError):
    """A non-2xx answer without an OAuth error body; see `status`."""


class OAuthError(TokenClientError):
    """The server answered with an RFC 6749 §5.2 error."""

    def __init__(
        self,
        message: str,
        kind: int,
        status: int,
        error: str,
        error_description: Optional[str],
        error_uri: Optional[str],
    ) -> None:
        super().__init__(message, kind, status)
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri


class ResponseError(TokenClientError):
    """A 2xx answer that is not a valid token response."""


class InternalError(TokenClientError):
    """A bug inside tokenclient caught at its boundary; please report it."""


class CancelledError(TokenClientError):
    """The call was stopped through its `Cancel` handle (its request, if one
    was under way, was abandoned and its connection closed). Not
    `asyncio.CancelledError`: an `AsyncClient` call whose task is cancelled
    raises that one, as every cancelled task does."""


_BY_KIND = {
    _ffi.ERROR_INVALID_ARGUMENT: InvalidArgumentError,
    _ffi.ERROR_KEY: KeyFormatError,
    _ffi.ERROR_CONFIG: ConfigError,
    _ffi.ERROR_TRANSPORT: TransportError,
    _ffi.ERROR_HTTP: HTTPError,
    _ffi.ERROR_RESPONSE: ResponseError,
    _ffi.ERROR_PANIC: InternalError,
    _ffi.ERROR_CANCELLED: CancelledError,
}


def _text(raw: Optional[bytes]) -> Optional[str]:
    return None if raw is None else raw.decode("utf-8", "replace")


def check(err: Optional[int]) -> None:
    """Raises the exception for a non-NULL `tokenclient_error *`, freeing it."""
    if not err:
        return
    lib = _ffi.lib
    try:
        kind = lib.tokenclient_error_get_kind(err)
        message = _text(lib.tokenclient_error_message(err)) or ""
        status = lib.tokenclient_error_http_status(err)
        if kind == _ffi.ERROR_OAUTH:
            raise OAuthError(
                message,
                kind,
                status,
                _text(lib.tokenclient_error_oauth_code(err)) or "",
                _text(lib.tokenclient_error_oauth_description(err)),
                _text(lib.tokenclient_error_oauth_uri(err)),
            )
        raise _BY_KIND.get(kind, TokenClientError)(message, kind, status)
    finally:
        lib.tokenclient_error_free(err)
