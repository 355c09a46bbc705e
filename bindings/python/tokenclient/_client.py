"""The Client and Token classes: thin wrappers over the C API."""

from __future__ import annotations

import base64
import ctypes
import enum
import json as _json
import threading
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, TypeVar, Union, cast

from . import _events, _ffi
from ._errors import InvalidArgumentError, check

lib = _ffi.lib
T = TypeVar("T")


class AuthMethod(enum.IntEnum):
    """How the client authenticates at the token endpoint (the C
    `TOKENCLIENT_AUTH_*` values)."""

    NONE = _ffi.AUTH_NONE
    CLIENT_SECRET_BASIC = _ffi.AUTH_CLIENT_SECRET_BASIC
    CLIENT_SECRET_POST = _ffi.AUTH_CLIENT_SECRET_POST
    CLIENT_SECRET_JWT = _ffi.AUTH_CLIENT_SECRET_JWT
    PRIVATE_KEY_JWT = _ffi.AUTH_PRIVATE_KEY_JWT


_TALKDESK_REGIONS = {"us": _ffi.TALKDESK_US, "eu": _ffi.TALKDESK_EU, "ca": _ffi.TALKDESK_CA}


def _arg(value: Any, name: str, optional: bool = False) -> Optional[bytes]:
    """A str (or UTF-8 bytes) argument as bytes for C."""
    if value is None:
        if optional:
            return None
        raise InvalidArgumentError(f"{name} is required", _ffi.ERROR_INVALID_ARGUMENT)
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        raise TypeError(f"{name} must be str or bytes, not {type(value).__name__}")
    if b"\0" in data:
        raise InvalidArgumentError(f"{name} contains a NUL character", _ffi.ERROR_INVALID_ARGUMENT)
    return data


def _uint(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgumentError(f"{name} is out of range", _ffi.ERROR_INVALID_ARGUMENT)
    return value


def _owned_string(call: Callable[[ctypes.c_void_p], Optional[int]]) -> str:
    out = ctypes.c_void_p()
    check(call(out))
    return _ffi.take_string(out)


def _text(raw: Optional[bytes]) -> Optional[str]:
    return None if raw is None else raw.decode("utf-8")


def _expires_in(handle: Optional[int]) -> Optional[int]:
    seconds = lib.tokenclient_token_expires_in(handle)
    return None if seconds < 0 else seconds


#: How each field of a Token is read from a C token.
_FIELDS: Dict[str, Callable[[Optional[int]], Any]] = {
    "access_token": lambda h: _text(lib.tokenclient_token_access_token(h)) or "",
    "token_type": lambda h: _text(lib.tokenclient_token_token_type(h)) or "",
    "expires_in": _expires_in,
    "scope": lambda h: _text(lib.tokenclient_token_scope(h)),
    "refresh_token": lambda h: _text(lib.tokenclient_token_refresh_token(h)),
    "id_token": lambda h: _text(lib.tokenclient_token_id_token(h)),
    "json": lambda h: _json.loads(lib.tokenclient_token_json(h) or b"{}"),
}


class Token:
    """A successful token response. It owns the C token, whose memory is
    wiped when this object goes; each field is copied out of it on first
    use, so values a caller never reads never become Python strings.
    Copies and pickles are plain snapshots. `repr` never shows token
    values."""

    __slots__ = ("_handle", "_values")

    def __init__(self, handle: Optional[int]) -> None:
        """Takes ownership of `handle` (a `tokenclient_token *`)."""
        self._handle: Optional[int] = handle
        self._values: Dict[str, Any] = {}

    @classmethod
    def _from_values(cls, values: Dict[str, Any]) -> "Token":
        token = cls.__new__(cls)
        token._handle = None
        token._values = dict(values)
        return token

    @classmethod
    def _copy(cls, handle: Optional[int]) -> "Token":
        """A snapshot of a token the caller does not own (e.g. one lent to a
        callback)."""
        return cls._from_values({name: read(handle) for name, read in _FIELDS.items()})

    def _get(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            value = self._values[name] = _FIELDS[name](self._handle)
            return value

    def __del__(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            lib.tokenclient_token_free(handle)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Token._from_values, ({name: self._get(name) for name in _FIELDS},))

    @property
    def access_token(self) -> str:
        """The access token (a credential: do not log it)."""
        return cast(str, self._get("access_token"))

    @property
    def token_type(self) -> str:
        """The token type, e.g. "Bearer"."""
        return cast(str, self._get("token_type"))

    @property
    def expires_in(self) -> Optional[int]:
        """Seconds the access token lives; None when the server did not say."""
        return cast(Optional[int], self._get("expires_in"))

    @property
    def scope(self) -> Optional[str]:
        """The granted scope, when the server sent one."""
        return cast(Optional[str], self._get("scope"))

    @property
    def refresh_token(self) -> Optional[str]:
        """The refresh token, when the server sent one."""
        return cast(Optional[str], self._get("refresh_token"))

    @property
    def id_token(self) -> Optional[str]:
        """The OpenID Connect ID token, when the server sent one."""
        return cast(Optional[str], self._get("id_token"))

    @property
    def json(self) -> Dict[str, Any]:
        """The whole response body, parsed."""
        return cast(Dict[str, Any], self._get("json"))

    def __getitem__(self, name: str) -> str:
        """A string member of the response, e.g. `token["sid"]`."""
        value = self.json.get(name)
        if not isinstance(value, str):
            raise KeyError(name)
        return value

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A string member of the response, or `default`."""
        value = self.json.get(name)
        return value if isinstance(value, str) else default

    def __repr__(self) -> str:
        return f"Token(token_type={self.token_type!r}, expires_in={self.expires_in!r}, scope={self.scope!r})"


class Client:
    """A client of one token endpoint. Safe to share between threads; calls
    release the GIL while they run. Close it with `close()` or `with`."""

    def __init__(self, token_url: str, client_id: str) -> None:
        self._lock = threading.Lock()
        self._handle: Optional[int] = None
        self._callback: Any = None  # keeps the ctypes trampoline alive
        self._busy = 0
        self._closing = False
        out = ctypes.c_void_p()
        check(lib.tokenclient_client_new(_arg(token_url, "token_url"), _arg(client_id, "client_id"), ctypes.byref(out)))
        self._handle = out.value
        # Forward what the logger is enabled for; when it is disabled, install
        # nothing, so that the library never calls into Python.
        level = _events.logger_c_level()
        if level is not None:
            self._forward_events(level)

    # -- construction helpers -------------------------------------------
    @classmethod
    def talkdesk(cls, account: str, client_id: str, region: str = "us") -> "Client":
        """A client of Talkdesk account `account` in `region` ("us", "eu" or "ca")."""
        code = _TALKDESK_REGIONS.get(region.lower() if isinstance(region, str) else region)
        if code is None:
            raise InvalidArgumentError(f"unknown Talkdesk region {region!r}: use us, eu or ca", _ffi.ERROR_INVALID_ARGUMENT)
        url = _owned_string(lambda out: lib.tokenclient_talkdesk_token_url(_arg(account, "account"), code, ctypes.byref(out)))
        return cls(url, client_id)

    @classmethod
    def pingone(cls, env_id: str, client_id: str, auth_base: str = "https://auth.pingone.com") -> "Client":
        """A client of PingOne environment `env_id` (token URL
        `{auth_base}/{env_id}/as/token`)."""
        url = _owned_string(
            lambda out: lib.tokenclient_pingone_token_url(_arg(auth_base, "auth_base"), _arg(env_id, "env_id"), ctypes.byref(out))
        )
        return cls(url, client_id)

    # -- handle lifetime ---------------------------------------------------
    def _acquire(self) -> int:
        """The handle, which cannot be freed until `_release()`."""
        with self._lock:
            if self._handle is None or self._closing:
                raise InvalidArgumentError("the client is closed", _ffi.ERROR_INVALID_ARGUMENT)
            self._busy += 1
            return self._handle

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
            self._free_if_done()

    def _call(self, fn: Callable[[int], T]) -> T:
        """Runs `fn(handle)`; the handle cannot be freed while it runs."""
        handle = self._acquire()
        try:
            return fn(handle)
        finally:
            self._release()

    def _free_if_done(self) -> None:
        if self._closing and self._busy == 0 and self._handle is not None:
            lib.tokenclient_client_free(self._handle)
            self._handle = None

    def close(self) -> None:
        """Frees the client and wipes its secrets (after calls in flight
        end). Idempotent."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._closing = True
            self._free_if_done()

    @property
    def closed(self) -> bool:
        return self._closing

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _set(self, fn: Callable[..., Optional[int]], *args: Any) -> None:
        self._call(lambda h: check(fn(h, *args)))

    # -- credentials -------------------------------------------------------
    def set_client_secret(self, secret: Union[str, bytes], method: AuthMethod = AuthMethod.CLIENT_SECRET_BASIC) -> None:
        """Authenticates with a client secret: client_secret_basic (default),
        client_secret_post or client_secret_jwt."""
        self._set(lib.tokenclient_client_set_client_secret, _arg(secret, "secret"), _uint(int(method), "method"))

    def set_private_key(self, key: Union[str, bytes], key_id: Optional[str] = None, alg: Optional[str] = None) -> None:
        """Authenticates with private_key_jwt. `key` is PEM, one-line PEM,
        bare base64 DER, a private JWK (str or bytes), or raw DER bytes."""
        if isinstance(key, (bytes, bytearray)):
            data = bytes(key)
            if all(32 <= b < 127 or b in b"\r\n\t" for b in data):
                key = data.decode("ascii")
            else:  # binary, i.e. DER: hand it over as base64
                key = base64.b64encode(data).decode("ascii")
        self._set(lib.tokenclient_client_set_private_key, _arg(key, "key"), _arg(key_id, "key_id", True), _arg(alg, "alg", True))

    def set_public(self) -> None:
        """Makes this a public client (auth method none)."""
        self._set(lib.tokenclient_client_set_public)

    def set_hmac_alg(self, alg: str) -> None:
        """HS256 (default), HS384 or HS512 for client_secret_jwt."""
        self._set(lib.tokenclient_client_set_hmac_alg, _arg(alg, "alg"))

    # -- assertion options -------------------------------------------------
    def set_audience(self, audience: str) -> None:
        """The assertion `aud` (default: the token URL)."""
        self._set(lib.tokenclient_client_set_audience, _arg(audience, "audience"))

    def add_audience(self, audience: str) -> None:
        """Adds an audience; with several, `aud` is an array."""
        self._set(lib.tokenclient_client_add_audience, _arg(audience, "audience"))

    def set_assertion_lifetime(self, seconds: int) -> None:
        """`exp` = now + seconds, 1 to 3600 (default 300)."""
        self._set(lib.tokenclient_client_set_assertion_lifetime, _uint(seconds, "seconds"))

    def set_clock_skew(self, seconds: int) -> None:
        """Backdates `iat` by seconds, 0 to 600 (default 5)."""
        self._set(lib.tokenclient_client_set_clock_skew, _uint(seconds, "seconds"))

    # -- transport options -------------------------------------------------
    def set_timeout_ms(self, connect_ms: int, total_ms: int) -> None:
        """Connect and total timeouts in ms (defaults 10000, 30000). The total
        is one deadline for a whole call, retries and backoff included."""
        self._set(lib.tokenclient_client_set_timeout_ms, _uint(connect_ms, "connect_ms"), _uint(total_ms, "total_ms"))

    def set_ca_file(self, path: Optional[str]) -> None:
        """Trusts the CAs in this PEM file instead of the system's; None
        restores the system's."""
        self._set(lib.tokenclient_client_set_ca_file, _arg(path, "path", True))

    def set_client_cert(self, cert_path: Optional[str], key_path: Optional[str]) -> None:
        """Presents a client certificate (mTLS); both None stops."""
        self._set(lib.tokenclient_client_set_client_cert, _arg(cert_path, "cert_path", True), _arg(key_path, "key_path", True))

    def set_proxy(self, proxy: Optional[str]) -> None:
        """A proxy URL; "" for none; None for the environment's."""
        self._set(lib.tokenclient_client_set_proxy, _arg(proxy, "proxy", True))

    def set_max_response_bytes(self, limit: int) -> None:
        """Caps response bodies, 1024 bytes to 64 MiB (default 1 MiB)."""
        self._set(lib.tokenclient_client_set_max_response_bytes, _uint(limit, "limit"))

    def add_header(self, name: str, value: str) -> None:
        """Adds a header to every request."""
        self._set(lib.tokenclient_client_add_header, _arg(name, "name"), _arg(value, "value"))

    # -- assertions and exchanges -------------------------------------------
    def _string(self, fn: Callable[[int, Any], Optional[int]]) -> str:
        """The string `fn(handle, &out)` writes to `out`."""
        return self._call(lambda h: _owned_string(lambda out: fn(h, ctypes.byref(out))))

    def create_assertion(self) -> str:
        """A new signed client assertion (a credential: do not log it)."""
        return self._string(lib.tokenclient_client_create_assertion)

    def _token(self, fn: Callable[..., Optional[int]], *args: Any) -> Token:
        out = ctypes.c_void_p()
        handle = self._acquire()
        try:
            check(fn(handle, *args, ctypes.byref(out)))
        finally:
            self._release()
        return Token(out.value)  # it does not depend on the client

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: Optional[str] = None) -> Token:
        """The authorization_code grant, with PKCE when `code_verifier` is given."""
        return self._token(
            lib.tokenclient_client_exchange_code,
            _arg(code, "code"),
            _arg(redirect_uri, "redirect_uri"),
            _arg(code_verifier, "code_verifier", True),
        )

    def refresh(self, refresh_token: str, scope: Optional[str] = None) -> Token:
        """The refresh_token grant."""
        return self._token(lib.tokenclient_client_refresh, _arg(refresh_token, "refresh_token"), _arg(scope, "scope", True))

    def client_credentials(self, scope: Optional[str] = None) -> Token:
        """The client_credentials grant."""
        return self._token(lib.tokenclient_client_client_credentials, _arg(scope, "scope", True))

    # -- the token cache ------------------------------------------------------
    def get_token(self, scope: Optional[str] = None) -> Token:
        """A valid access token for `scope` from the client's cache, obtained
        (once, however many threads ask) when missing or due for refresh."""
        return self._token(lib.tokenclient_client_get_token, _arg(scope, "scope", True))

    def set_refresh_token(self, refresh_token: Optional[str]) -> None:
        """Makes `get_token` use this refresh token (following rotation);
        None goes back to client credentials."""
        self._set(lib.tokenclient_client_set_refresh_token, _arg(refresh_token, "refresh_token", True))

    def invalidate_token(self, scope: Optional[str] = None) -> None:
        """Drops the cached token of `scope`, e.g. after an API rejected it."""
        self._set(lib.tokenclient_client_invalidate_token, _arg(scope, "scope", True))

    def on_token(self, callback: Optional[Callable[[Token], None]]) -> None:
        """Calls `callback(token)` with every token `get_token` obtains, so new
        tokens and rotated refresh tokens can be persisted. It runs on the
        thread that made the request; exceptions it raises are printed, not
        raised. None removes it."""
        if callback is None:
            trampoline = _ffi.TOKEN_CALLBACK()
        else:
            def call(_user_data: Optional[int], handle: Optional[int]) -> None:
                try:
                    callback(Token._copy(handle))
                except BaseException:  # noqa: BLE001 - nothing may unwind into C
                    import traceback

                    traceback.print_exc()

            trampoline = _ffi.TOKEN_CALLBACK(call)
        self._set(lib.tokenclient_client_set_token_callback, trampoline, None)
        self._callback = trampoline

    def set_retry_policy(self, max_retries: int, base_delay_ms: int = 200, max_delay_ms: int = 10000) -> None:
        """Retries of transport failures, 5xx and 429 (never OAuth errors)."""
        self._set(lib.tokenclient_client_set_retry_policy, _uint(max_retries, "max_retries"),
                  _uint(base_delay_ms, "base_delay_ms"), _uint(max_delay_ms, "max_delay_ms"))

    def set_refresh_policy(self, percent: int = 80, margin_seconds: int = 10) -> None:
        """When `get_token` refreshes: after `percent` of the lifetime, or
        `margin_seconds` before expiry."""
        self._set(lib.tokenclient_client_set_refresh_policy, _uint(percent, "percent"),
                  _uint(margin_seconds, "margin_seconds"))

    # -- events and counters ---------------------------------------------------
    def _forward_events(self, level: Optional[int]) -> None:
        """Forwards the events at C `level` and above to the "tokenclient"
        logger; None removes the forwarder."""
        if level is None:  # any valid level: the callback is NULL
            self._set(lib.tokenclient_client_set_log_callback, _ffi.LOG_ERROR, _events.NO_FORWARDER, None)
        else:
            self._set(lib.tokenclient_client_set_log_callback, level, _events.FORWARDER, None)

    def set_log_level(self, level: Optional[int]) -> None:
        """Forwards this client's events at `level` (a `logging` level) and
        above to `logging.getLogger("tokenclient")`; None stops. A new client
        forwards at the level that logger is enabled for when it is created
        (none when it is disabled), so call this after changing the logger's
        level. The logger still filters what it gets."""
        self._forward_events(_events.c_level(level))

    def counters(self) -> Dict[str, Any]:
        """The client's counters since it was created: "requests" (attempts
        by grant), "errors" (failed calls by kind), "retries", "cache_hits",
        "cache_misses", "refreshes", "refresh_failures_kept_old",
        "singleflight_waits" and "latency_us" (requests by duration bucket)."""
        counters: Dict[str, Any] = _json.loads(self._string(lib.tokenclient_client_counters))
        return counters

    def grant(self, grant_type: str, **params: Union[str, Iterable[str]]) -> Token:
        """Any grant, with form parameters; a list value repeats the name
        (e.g. `resource=["a", "b"]`)."""
        pairs = list(_flatten(params.items()))
        array = (ctypes.c_char_p * (len(pairs) + 1))(*pairs, None)
        return self._token(lib.tokenclient_client_grant, _arg(grant_type, "grant_type"), array)


def _flatten(items: Iterable[Tuple[str, Union[str, Iterable[str]]]]) -> Iterable[Optional[bytes]]:
    for name, value in items:
        values = [value] if isinstance(value, (str, bytes)) else list(value)
        for v in values:
            yield _arg(name, "a parameter name")
            yield _arg(v, name)


def version() -> str:
    """The version of the loaded libtokenclient."""
    raw: bytes = lib.tokenclient_version()
    return raw.decode("ascii")


__all__ = ["AuthMethod", "Client", "Token", "version"]
