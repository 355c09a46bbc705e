"""The Client and Token classes: thin wrappers over the C API."""

from __future__ import annotations

import base64
import ctypes
import enum
import importlib
import json as _json
import math
import os
import threading
import time
import weakref
from typing import (TYPE_CHECKING, Any, Callable, ClassVar, Dict, Iterable, List, Mapping, NoReturn, Optional,
                    Sequence, Tuple, TypeVar, Union, cast)

from . import _events, _ffi, _signers
from ._errors import InvalidArgumentError, check
from ._owned import _Owned

if TYPE_CHECKING:
    from ._aio import AsyncClient
    from ._oidc import Authorization, DeviceAuthorization

lib = _ffi.lib
T = TypeVar("T")

# The clocks of the snapshots (see Client.get_token): the system's
# monotonic and wall clocks, which the core's cache judges freshness by.
_monotonic = time.monotonic
_wall = time.time

#: `struct_size` of the call options this binding passes.
_OPTIONS_SIZE = ctypes.sizeof(_ffi.CallOptions)
#: The largest uint32_t.
_UINT32_MAX = 0xFFFFFFFF

#: A keyword argument left out (where None means something of its own).
_UNSET: Any = object()


class AuthMethod(enum.IntEnum):
    """How the client authenticates at the token endpoint (the C
    `TOKENCLIENT_AUTH_*` values)."""

    NONE = _ffi.AUTH_NONE
    CLIENT_SECRET_BASIC = _ffi.AUTH_CLIENT_SECRET_BASIC
    CLIENT_SECRET_POST = _ffi.AUTH_CLIENT_SECRET_POST
    CLIENT_SECRET_JWT = _ffi.AUTH_CLIENT_SECRET_JWT
    PRIVATE_KEY_JWT = _ffi.AUTH_PRIVATE_KEY_JWT
    #: For a client made with `from_issuer`: the secret-based method its
    #: metadata prefers.
    AUTO = _ffi.AUTH_AUTO
    #: Mutual TLS with a certificate of a CA the server trusts (RFC 8705
    #: §2.1): `Client.set_tls_client_auth`.
    TLS_CLIENT_AUTH = _ffi.AUTH_TLS_CLIENT_AUTH
    #: Mutual TLS with a self-signed certificate registered with the server
    #: (RFC 8705 §2.2): `Client.set_tls_client_auth`.
    SELF_SIGNED_TLS_CLIENT_AUTH = _ffi.AUTH_SELF_SIGNED_TLS_CLIENT_AUTH


#: The methods of `Client.set_tls_client_auth`, which authenticate with the
#: client certificate.
_TLS_METHODS = (AuthMethod.TLS_CLIENT_AUTH, AuthMethod.SELF_SIGNED_TLS_CLIENT_AUTH)


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


def _path_or_text(value: Any, name: str) -> Optional[bytes]:
    """A file's path (str, bytes or os.PathLike) or PEM text, as bytes for C
    (which tells them apart); None stays None."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return _arg(value, name, True)


def _key_text(key: Any) -> Any:
    """A private key as the library reads it: str as it is, ASCII bytes
    decoded, other bytes (DER) as base64."""
    if isinstance(key, (bytes, bytearray)):
        data = bytes(key)
        if all(32 <= b < 127 or b in b"\r\n\t" for b in data):
            return data.decode("ascii")
        return base64.b64encode(data).decode("ascii")  # binary, i.e. DER: hand it over as base64
    return key


def _pkcs8_pem(key: Any) -> str:
    """A private key object of the `cryptography` package as unencrypted
    PKCS#8 PEM (imported only for such an object)."""
    serialization = importlib.import_module("cryptography.hazmat.primitives.serialization")
    pem: bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    return pem.decode("ascii")


def _uint(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= _UINT32_MAX:
        raise InvalidArgumentError(f"{name} is out of range", _ffi.ERROR_INVALID_ARGUMENT)
    return value


def _ms(seconds: Any, name: str) -> int:
    """A positive duration in seconds (int or float) as whole milliseconds,
    rounded up, for C."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(seconds).__name__}")
    if not seconds > 0:  # also NaN
        raise InvalidArgumentError(f"{name} must be more than 0 seconds", _ffi.ERROR_INVALID_ARGUMENT)
    if not seconds * 1000 <= _UINT32_MAX:  # also inf
        raise InvalidArgumentError(f"{name} is out of range", _ffi.ERROR_INVALID_ARGUMENT)
    return max(1, math.ceil(seconds * 1000))


def _owned_string(call: Callable[[ctypes.c_void_p], Optional[int]]) -> str:
    out = ctypes.c_void_p()
    check(call(out))
    return _ffi.take_string(out)


def _text(raw: Optional[bytes]) -> Optional[str]:
    return None if raw is None else raw.decode("utf-8")


def _expires_in(handle: Optional[int]) -> Optional[int]:
    seconds = lib.tokenclient_token_expires_in(handle)
    return None if seconds < 0 else seconds


def _json_object(raw: Optional[bytes]) -> Optional[Dict[str, Any]]:
    """A JSON object the library wrote (None for NULL), parsed."""
    if raw is None:
        return None
    value: Dict[str, Any] = _json.loads(raw)
    return value


#: How each field of a Token is read from a C token.
_FIELDS: Dict[str, Callable[[Optional[int]], Any]] = {
    "access_token": lambda h: _text(lib.tokenclient_token_access_token(h)) or "",
    "token_type": lambda h: _text(lib.tokenclient_token_token_type(h)) or "",
    "expires_in": _expires_in,
    "scope": lambda h: _text(lib.tokenclient_token_scope(h)),
    "refresh_token": lambda h: _text(lib.tokenclient_token_refresh_token(h)),
    "id_token": lambda h: _text(lib.tokenclient_token_id_token(h)),
    "json": lambda h: _json.loads(lib.tokenclient_token_json(h) or b"{}"),
    "id_token_claims": lambda h: _json_object(lib.tokenclient_token_id_token_claims(h)),
    "cnf": lambda h: _json_object(lib.tokenclient_token_cnf(h)),
    "authorization": lambda h: _text(lib.tokenclient_token_authorization(h)) or "",
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
        try:  # inlined: this is the read every cached get_token is followed by
            value: str = self._values["access_token"]
            return value
        except KeyError:
            return cast(str, self._get("access_token"))

    @property
    def token_type(self) -> str:
        """The token type, e.g. "Bearer"."""
        try:
            value: str = self._values["token_type"]
            return value
        except KeyError:
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

    @property
    def id_token_claims(self) -> Optional[Dict[str, Any]]:
        """The claims of the ID token, validated (signature, issuer,
        audience, expiry, nonce, max_age, at_hash and c_hash), for a token
        from `Authorization.finish`; None for other tokens, whose ID token
        (if any) was not validated: see `Client.validate_id_token`."""
        return cast(Optional[Dict[str, Any]], self._get("id_token_claims"))

    @property
    def cnf(self) -> Optional[Dict[str, Any]]:
        """What the token is bound to (RFC 7800 `cnf`), parsed:
        `{"jkt": <thumbprint>}` for a DPoP token (`Client.set_dpop_key`),
        `{"x5t#S256": <thumbprint>}` for one bound to the client certificate
        (mutual TLS, `Client.set_client_cert`); None for a bearer token."""
        return cast(Optional[Dict[str, Any]], self._get("cnf"))

    @property
    def authorization(self) -> str:
        """The `Authorization` header value for a resource request:
        "DPoP <access_token>" for a DPoP token (send a `DPoP` proof with it:
        `Client.dpop_proof`), else "Bearer <access_token>". A credential,
        like the access token: do not log it."""
        return cast(str, self._get("authorization"))

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


class Cancel(_Owned):
    """Stops the calls it is given to (`cancel=`), from any thread: each
    raises `CancelledError` within a few milliseconds, abandoning its request
    (its connection is closed, never reused). A `get_token` that waits for a
    request other callers share only stops waiting; the request goes on for
    them. Once cancelled it stays cancelled: make a new one for the next
    call. Close it with `close()` or `with` (calls still running with it keep
    what they need)."""

    __slots__ = ("_cancelled",)
    _WHAT: ClassVar[str] = "the cancel handle"

    def __init__(self) -> None:
        # Reentrant: cancel() may run in a signal handler of the thread
        # that holds the lock.
        self._own(None, reentrant=True)
        self._cancelled = False
        out = ctypes.c_void_p()
        check(lib.tokenclient_cancel_new(ctypes.byref(out)))
        self._handle = out.value

    @staticmethod
    def _free(handle: int) -> None:
        lib.tokenclient_cancel_free(handle)

    def cancel(self) -> None:
        """Cancels every call given this handle, running or to come.
        Idempotent; safe from any thread and from a signal handler."""
        with self._lock:
            self._cancelled = True
            if self._handle is not None:
                lib.tokenclient_cancel_cancel(self._handle)

    @property
    def cancelled(self) -> bool:
        """Whether `cancel()` was called."""
        return self._cancelled

    def __enter__(self) -> "Cancel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Cancel(cancelled={self._cancelled!r}, closed={self._closing!r})"


#: The credentials keyword arguments of Client, of which one may be given.
_CREDENTIALS = ("private_key", "signer", "client_secret", "public")

#: A snapshot of a cached token: (the token, its monotonic deadline, its
#: wall-clock deadline).
_Snapshot = Tuple[Token, float, float]


class Client(_Owned):
    """A client of one token endpoint. Safe to share between threads; calls
    release the GIL while they run. Close it with `close()` or `with`.

    Every setter has a keyword argument of the constructor, so that a client
    is one expression::

        Client(token_url, client_id, private_key=pem, key_id="k1", timeout=5)

    `private_key` (with `key_id`, `alg`), `signer` (an external signer: a
    callable or a `cryptography` key, with `key_id`, `alg`; see
    `set_signer`), `client_secret` (with `auth_method`, `hmac_alg`) and
    `public=True` choose the credentials (one of them); `refresh_token`, `audience` (a str, or a list for several),
    `assertion_lifetime`, `clock_skew` (seconds), `timeout` (seconds for a
    whole call, or a pair (connect, total)), `ca_file`, `client_cert` (a pair
    (cert, key): paths or PEM text), `proxy`, `max_response_bytes`, `headers`
    (a mapping or pairs), `retry_policy` (max retries, or the arguments of
    `set_retry_policy` as a tuple), `refresh_policy` (the arguments of
    `set_refresh_policy` as a tuple), `on_token` and `log_level` call the
    setters of the same names. `auth_method=AuthMethod.TLS_CLIENT_AUTH` (or
    `SELF_SIGNED_TLS_CLIENT_AUTH`, or their names) with `client_cert` and no
    other credentials authenticates with the certificate
    (`set_tls_client_auth`). `dpop_key` (a key, or True for a generated
    P-256 one; with `dpop_alg`) calls `set_dpop_key`, `dpop_signer` (with
    `dpop_alg`, `dpop_public_key`) `set_dpop_signer` (one of the two),
    `dpop_allow_bearer` `set_dpop_allow_bearer`. A bad one closes the client and raises the
    setter's error."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        *,
        private_key: Optional[Union[str, bytes]] = None,
        key_id: Optional[str] = None,
        alg: Optional[str] = None,
        signer: Optional[Union[_signers.SignFunction, Any]] = None,
        client_secret: Optional[Union[str, bytes]] = None,
        auth_method: Optional[Union[AuthMethod, int, str]] = None,
        hmac_alg: Optional[str] = None,
        public: bool = False,
        refresh_token: Optional[str] = None,
        audience: Optional[Union[str, Sequence[str]]] = None,
        assertion_lifetime: Optional[int] = None,
        clock_skew: Optional[int] = None,
        timeout: Optional[Union[float, Tuple[float, float]]] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        client_cert: Optional[Tuple[Union[str, bytes, "os.PathLike[str]"], Union[str, bytes, "os.PathLike[str]"]]] = None,
        proxy: Optional[str] = None,
        max_response_bytes: Optional[int] = None,
        headers: Optional[Union[Mapping[str, str], Iterable[Tuple[str, str]]]] = None,
        retry_policy: Optional[Union[int, Tuple[int, ...]]] = None,
        refresh_policy: Optional[Tuple[int, ...]] = None,
        on_token: Optional[Callable[[Token], None]] = None,
        log_level: Optional[int] = _UNSET,
        dpop_key: Optional[Union[bool, str, bytes, Any]] = None,
        dpop_alg: Optional[str] = None,
        dpop_signer: Optional[Union[_signers.SignFunction, Any]] = None,
        dpop_public_key: Optional[Union[str, bytes, Any]] = None,
        dpop_allow_bearer: Optional[bool] = None,
    ) -> None:
        self._init_state()
        out = ctypes.c_void_p()
        check(lib.tokenclient_client_new(_arg(token_url, "token_url"), _arg(client_id, "client_id"), ctypes.byref(out)))
        self._start(out.value, dict(
            private_key=private_key, key_id=key_id, alg=alg, signer=signer, client_secret=client_secret,
            auth_method=auth_method, hmac_alg=hmac_alg, public=public, refresh_token=refresh_token,
            audience=audience, assertion_lifetime=assertion_lifetime, clock_skew=clock_skew, timeout=timeout,
            ca_file=ca_file, client_cert=client_cert, proxy=proxy, max_response_bytes=max_response_bytes,
            headers=headers, retry_policy=retry_policy, refresh_policy=refresh_policy, on_token=on_token,
            log_level=log_level, dpop_key=dpop_key, dpop_alg=dpop_alg, dpop_signer=dpop_signer,
            dpop_public_key=dpop_public_key, dpop_allow_bearer=dpop_allow_bearer,
        ))

    def _init_state(self) -> None:
        """The state of a client without its C client yet."""
        self._own(None)
        self._callback: Any = None  # keeps the ctypes trampoline alive
        # The snapshots of cached tokens, by scope (see get_token): read
        # without a lock, written under _snapshot_lock, and only when no
        # drop came since the C call began (_generation).
        self._snapshots: Dict[Optional[str], _Snapshot] = {}
        self._snapshot_lock = threading.Lock()
        self._generation = 0
        # Snapshots would hide the core's cache.hit events: none while
        # debug events are forwarded.
        self._snapshots_on = True
        self._aio: Optional["weakref.ReferenceType[AsyncClient]"] = None

    def _start(self, handle: Optional[int], options: Dict[str, Any]) -> None:
        """Takes ownership of `handle` (a new `tokenclient_client *`) and
        applies the constructor's keyword arguments `options` (all of them);
        a bad one closes the client and raises."""
        self._handle = handle
        try:
            # Forward what the logger is enabled for; when it is disabled, install
            # nothing, so that the library never calls into Python.
            level = _events.logger_c_level()
            if level is not None:
                self._forward_events(level)
            self._configure(**options)
        except BaseException:
            self.close()
            raise

    def _configure(self, **kw: Any) -> None:
        """Calls the setter of each keyword argument given (see the class)."""
        given = [name for name in _CREDENTIALS if kw[name] not in (None, False)]
        method = None if kw["auth_method"] is None else _auth_method(kw["auth_method"])
        tls = method is not None and method in _TLS_METHODS
        if tls:  # the certificate is the credential
            method = AuthMethod(cast(AuthMethod, method))
            given.append(f"auth_method {method.name.lower()}")
        if len(given) > 1:
            raise InvalidArgumentError(
                "give one of private_key, signer, client_secret, public and a TLS auth_method, "
                f"not {' and '.join(given)}",
                _ffi.ERROR_INVALID_ARGUMENT)
        dpop = [name for name in ("dpop_key", "dpop_signer") if kw[name] not in (None, False)]
        if len(dpop) > 1:
            raise InvalidArgumentError("give one of dpop_key and dpop_signer, not both", _ffi.ERROR_INVALID_ARGUMENT)
        for name, needs in (("key_id", ("private_key", "signer")), ("alg", ("private_key", "signer")),
                            ("auth_method", ("client_cert",) if tls else ("client_secret",)),
                            ("dpop_alg", ("dpop_key", "dpop_signer")), ("dpop_public_key", ("dpop_signer",))):
            if kw[name] is not None and all(kw[n] in (None, False) for n in needs):
                raise InvalidArgumentError(f"{name} goes with {' or '.join(needs)}", _ffi.ERROR_INVALID_ARGUMENT)
        if kw["hmac_alg"] is not None:  # first: the secret is checked against it
            self.set_hmac_alg(kw["hmac_alg"])
        if kw["private_key"] is not None:
            self.set_private_key(kw["private_key"], key_id=kw["key_id"], alg=kw["alg"])
        if kw["signer"] is not None:
            self.set_signer(kw["signer"], alg=kw["alg"], key_id=kw["key_id"])
        if kw["client_secret"] is not None:
            self.set_client_secret(kw["client_secret"], AuthMethod.CLIENT_SECRET_BASIC if method is None else method)
        if kw["public"] is not False:
            if kw["public"] is not True:
                raise TypeError(f"public must be True or False, not {type(kw['public']).__name__}")
            self.set_public()
        if kw["refresh_token"] is not None:
            self.set_refresh_token(kw["refresh_token"])
        audience = kw["audience"]
        if audience is not None:
            audiences: List[Any] = [audience] if isinstance(audience, (str, bytes)) else list(audience)
            if not audiences:
                raise InvalidArgumentError("audience is an empty list", _ffi.ERROR_INVALID_ARGUMENT)
            self.set_audience(audiences[0])
            for more in audiences[1:]:
                self.add_audience(more)
        if kw["assertion_lifetime"] is not None:
            self.set_assertion_lifetime(kw["assertion_lifetime"])
        if kw["clock_skew"] is not None:
            self.set_clock_skew(kw["clock_skew"])
        timeout = kw["timeout"]
        if timeout is not None:
            if isinstance(timeout, tuple):
                if len(timeout) != 2:
                    raise TypeError("timeout must be seconds, or a pair (connect, total) of seconds")
                self.set_timeout_ms(_ms(timeout[0], "the connect timeout"), _ms(timeout[1], "the total timeout"))
            else:  # the whole call, its connects included
                total = _ms(timeout, "timeout")
                self.set_timeout_ms(total, total)
        if kw["ca_file"] is not None:
            self.set_ca_file(kw["ca_file"])
        if kw["client_cert"] is not None:
            cert, key = kw["client_cert"]
            self.set_client_cert(cert, key)
        if tls:
            self.set_tls_client_auth(cast(AuthMethod, method))
        dpop_key = kw["dpop_key"]
        if dpop_key is not None and dpop_key is not False:
            self.set_dpop_key(None if dpop_key is True else dpop_key, kw["dpop_alg"])
        if kw["dpop_signer"] is not None:
            self.set_dpop_signer(kw["dpop_signer"], kw["dpop_alg"], kw["dpop_public_key"])
        if kw["dpop_allow_bearer"] is not None:
            self.set_dpop_allow_bearer(kw["dpop_allow_bearer"])
        if kw["proxy"] is not None:
            self.set_proxy(kw["proxy"])
        if kw["max_response_bytes"] is not None:
            self.set_max_response_bytes(kw["max_response_bytes"])
        headers = kw["headers"]
        if headers is not None:
            for name, value in (headers.items() if isinstance(headers, Mapping) else headers):
                self.add_header(name, value)
        retry = kw["retry_policy"]
        if retry is not None:
            self.set_retry_policy(*(retry if isinstance(retry, tuple) else (retry,)))
        if kw["refresh_policy"] is not None:
            self.set_refresh_policy(*kw["refresh_policy"])
        if kw["on_token"] is not None:
            self.on_token(kw["on_token"])
        if kw["log_level"] is not _UNSET:
            self.set_log_level(kw["log_level"])

    # -- construction helpers -------------------------------------------
    @classmethod
    def talkdesk(cls, account: str, client_id: str, region: str = "us", **options: Any) -> "Client":
        """A client of Talkdesk account `account` in `region` ("us", "eu" or
        "ca"); `options` are the constructor's keyword arguments."""
        code = _TALKDESK_REGIONS.get(region.lower() if isinstance(region, str) else region)
        if code is None:
            raise InvalidArgumentError(f"unknown Talkdesk region {region!r}: use us, eu or ca", _ffi.ERROR_INVALID_ARGUMENT)
        url = _owned_string(lambda out: lib.tokenclient_talkdesk_token_url(_arg(account, "account"), code, ctypes.byref(out)))
        return cls(url, client_id, **options)

    @classmethod
    def pingone(cls, env_id: str, client_id: str, auth_base: str = "https://auth.pingone.com",
                **options: Any) -> "Client":
        """A client of PingOne environment `env_id` (token URL
        `{auth_base}/{env_id}/as/token`); `options` are the constructor's
        keyword arguments."""
        url = _owned_string(
            lambda out: lib.tokenclient_pingone_token_url(_arg(auth_base, "auth_base"), _arg(env_id, "env_id"), ctypes.byref(out))
        )
        return cls(url, client_id, **options)

    @classmethod
    def from_issuer(cls, issuer: str, client_id: str, *, timeout: Optional[Union[float, Tuple[float, float]]] = None,
                    cancel: Optional[Cancel] = None, **options: Any) -> "Client":
        """A client of the authorization server `issuer`, from its metadata
        (OpenID Connect Discovery, else RFC 8414), which must name `issuer`
        exactly: its token endpoint, and those of `revoke`, `introspect`,
        `userinfo`, `validate_id_token`, `authorization` and `device_flow`.
        `options` are the constructor's keyword arguments (the
        credentials, ...), applied once the metadata is in. `timeout`
        (seconds, or a pair (connect, total)) bounds the discovery (by its
        total) and is then the client's timeout, as for the constructor;
        `cancel` stops the discovery. The discovery itself uses the default
        transport settings (the system's CAs, the environment's proxy): the
        `ca_file`, `proxy`, `client_cert` and `headers` given apply to the
        client's requests after it."""
        unknown = sorted(set(options) - set(_KEYWORDS))
        if unknown:
            raise TypeError(f"from_issuer() got an unexpected keyword argument {unknown[0]!r}")
        if isinstance(timeout, tuple) and len(timeout) == 2:
            deadline: Any = timeout[1]
        elif isinstance(timeout, tuple):
            raise TypeError("timeout must be seconds, or a pair (connect, total) of seconds")
        else:
            deadline = timeout
        out = ctypes.c_void_p()
        _with_options(deadline, cancel, lambda o: check(lib.tokenclient_client_from_issuer_ex(
            _arg(issuer, "issuer"), _arg(client_id, "client_id"), o, ctypes.byref(out))))
        client = cls.__new__(cls)
        client._init_state()
        client._start(out.value, {**_KEYWORDS, **options, "timeout": timeout})
        return client

    def aio(self) -> "AsyncClient":
        """The `AsyncClient` of this client: the same C client (its cache,
        its single flight, its settings), with `async` I/O methods. Closing
        either closes both."""
        from ._aio import AsyncClient

        existing = self._aio() if self._aio is not None else None
        if existing is None:
            existing = AsyncClient.from_client(self)
            self._aio = weakref.ref(existing)
        return existing

    # -- handle lifetime (_Owned) ------------------------------------------
    _WHAT: ClassVar[str] = "the client"

    @staticmethod
    def _free(handle: int) -> None:
        lib.tokenclient_client_free(handle)

    def close(self) -> None:
        """Frees the client and wipes its secrets (after calls in flight
        end). Idempotent."""
        super().close()
        if getattr(self, "_snapshot_lock", None) is not None:
            self._drop_snapshots()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> NoReturn:
        # A copy would share the C client and free it twice.
        raise TypeError("a Client cannot be copied or pickled: share it (it is thread-safe) or make another")

    # -- snapshots of cached tokens ----------------------------------------
    def _drop_snapshots(self, scope: Any = _UNSET) -> None:
        """Drops the snapshot of `scope` (None and "" are one scope), or all
        of them; a get_token whose C call began before keeps none."""
        with self._snapshot_lock:
            self._generation += 1
            if scope is _UNSET:
                self._snapshots.clear()
            elif scope is None or scope == "" or scope == b"":
                self._snapshots.pop(None, None)
                self._snapshots.pop("", None)
            else:
                if isinstance(scope, (bytes, bytearray)):
                    scope = bytes(scope).decode("utf-8", "replace")
                self._snapshots.pop(scope, None)

    def _set(self, fn: Callable[..., Optional[int]], *args: Any) -> None:
        """Calls a setter: every change of credentials or settings drops the
        snapshots (after the change, so that none is taken before it)."""
        try:
            self._call(lambda h: check(fn(h, *args)))
        finally:
            self._drop_snapshots()

    # -- credentials -------------------------------------------------------
    def set_client_secret(self, secret: Union[str, bytes], method: AuthMethod = AuthMethod.CLIENT_SECRET_BASIC) -> None:
        """Authenticates with a client secret: client_secret_basic (default),
        client_secret_post or client_secret_jwt."""
        self._set(lib.tokenclient_client_set_client_secret, _arg(secret, "secret"), _uint(int(method), "method"))

    def set_private_key(self, key: Union[str, bytes], key_id: Optional[str] = None, alg: Optional[str] = None) -> None:
        """Authenticates with private_key_jwt. `key` is PEM, one-line PEM,
        bare base64 DER, a private JWK (str or bytes), or raw DER bytes; or
        the PKCS#11 URI (RFC 7512) of a key inside a token, which never
        leaves it: `pkcs11:token=LABEL;object=KEY-LABEL?module-path=MODULE&
        pin-value=PIN` (or `pin-source=file:PATH`); the module, login and key
        are opened now, the key's type picks the default `alg`, and a forked
        child reopens the module on its first signature (PKCS#11 sessions do
        not survive fork()). A key the library cannot reach at all:
        `set_signer`."""
        self._set(lib.tokenclient_client_set_private_key, _arg(_key_text(key), "key"), _arg(key_id, "key_id", True),
                  _arg(alg, "alg", True))

    def set_signer(self, sign: Union[_signers.SignFunction, Any], alg: Optional[str] = None,
                   key_id: Optional[str] = None) -> None:
        """Authenticates with private_key_jwt, signing with a key the library
        never sees (an HSM, a cloud KMS). `sign` is a callable that takes
        the exact JWS signing input (bytes) and returns the signature
        (bytes): for ES256/ES384/ES512 JOSE's `r || s` or DER (converted by
        the library), for RS*/PS* the modulus-sized signature, for EdDSA 64
        bytes; `alg` is then required. Or `sign` is a private key object
        of the `cryptography` package (EC, RSA or Ed25519; it may be backed
        by an HSM): it signs with the hash and padding of `alg` (PS*: PSS,
        MGF1 of the same hash, salt as long as the digest), and `alg`
        defaults to the key's (P-256 ES256, P-384 ES384, P-521 ES512, RSA
        RS256, Ed25519 EdDSA). `key_id` is the assertions' `kid`.

        The callable runs on any thread, several at once, with the GIL; an
        exception it raises (or a result that is not bytes) fails the call
        with a KeyFormatError carrying the exception's type and text (so
        it should hold no secret); one that returns after the call's
        deadline fails it with a TransportError before anything is sent.
        It must not call this client's setters. The library holds it until
        no request uses it any more (it is replaced, or the client closed),
        so a callable that refers to its client keeps the client alive
        until `close()`. In a forked child it runs in the child: a signer
        holding a connection or session must reopen it there. Keys in a
        PKCS#11 token need no callable: `set_private_key("pkcs11:...")`.
        Replaces other credentials."""
        function, alg, _ = _signers.signer(sign, alg)
        self._install_signer(lib.tokenclient_client_set_signer, function, _arg(alg, "alg"),
                             _arg(key_id, "key_id", True))

    def _install_signer(self, setter: Callable[..., Optional[int]], function: _signers.SignFunction,
                        *args: Any) -> None:
        """Calls `setter(handle, *args, sign, user_data, free)` for
        `function`, which the library then holds until it calls `free`;
        on an error it holds nothing."""
        user_data = _signers.register(function)
        try:
            self._set(setter, *args, _signers.SIGN, user_data, _signers.FREE)
        except BaseException:
            _signers.unregister(user_data)
            raise

    def set_public(self) -> None:
        """Makes this a public client (auth method none)."""
        self._set(lib.tokenclient_client_set_public)

    def set_hmac_alg(self, alg: str) -> None:
        """HS256 (default), HS384 or HS512 for client_secret_jwt."""
        self._set(lib.tokenclient_client_set_hmac_alg, _arg(alg, "alg"))

    def set_tls_client_auth(self, method: Union[AuthMethod, int, str]) -> None:
        """Authenticates with the client certificate of `set_client_cert`
        (mutual TLS, RFC 8705): `AuthMethod.TLS_CLIENT_AUTH` (a
        certificate of a CA the server trusts) or
        `AuthMethod.SELF_SIGNED_TLS_CLIENT_AUTH` (a self-signed certificate
        registered with it), or their names. Requests carry `client_id` and
        no secret; replaces other credentials. A request without a
        certificate set is a ConfigError."""
        self._set(lib.tokenclient_client_set_tls_client_auth, _uint(int(_auth_method(method)), "method"))

    # -- DPoP (RFC 9449) -----------------------------------------------------
    def set_dpop_key(self, key: Optional[Union[str, bytes, Any]] = None, alg: Optional[str] = None) -> None:
        """Binds every token to a DPoP key (RFC 9449): each token request
        carries a proof of it (the server's `use_dpop_nonce` answer is
        retried once with its nonce, by the library) and tokens are
        "DPoP" (`Token.authorization`, `Token.cnf`); another type is a
        ResponseError unless `set_dpop_allow_bearer`. `key` is what
        `set_private_key` takes (a PKCS#11 URI too: the proofs name its
        public key object of the same label or id), or a private key object
        of the `cryptography` package (serialized to unencrypted PKCS#8 PEM, a
        Python str the binding cannot wipe; `set_dpop_signer` signs with one
        instead, which also suits one backed by an HSM), or None to generate a P-256
        key kept only in the library's memory. `alg`: None for the key's
        default (ES256 for P-256; RS256 for RSA, PS256 allowed). Replacing
        the key makes refresh tokens bound to the old one unusable."""
        if key is not None and not isinstance(key, (str, bytes, bytearray)) and hasattr(key, "private_bytes"):
            key = _pkcs8_pem(key)
        self._set(lib.tokenclient_client_set_dpop_key, _arg(_key_text(key), "key", True), _arg(alg, "alg", True))

    def set_dpop_signer(self, sign: Union[_signers.SignFunction, Any], alg: Optional[str] = None,
                        public_key: Optional[Union[str, bytes, Any]] = None) -> None:
        """Binds every token to a DPoP key the library never sees (see
        `set_dpop_key`): `sign` and `alg` as for `set_signer` (a callable,
        with `alg` required, or a `cryptography` private key object, whose
        public key is taken from it). For a callable, `public_key` is its
        public half, named in every proof (its thumbprint is the `jkt` of
        bound tokens): PEM (`-----BEGIN PUBLIC KEY-----`), DER bytes, bare
        base64 of the DER, or a `cryptography` public key object. A public
        key that cannot be read or does not fit `alg` is a KeyFormatError.
        Replaces the DPoP key."""
        function, alg, is_key = _signers.signer(sign, alg)
        if is_key:
            if public_key is not None:
                raise InvalidArgumentError("public_key goes with a callable: a key object's is its own",
                                           _ffi.ERROR_INVALID_ARGUMENT)
            public_key = _signers.public_pem(sign)
        elif public_key is not None and not isinstance(public_key, (str, bytes, bytearray)):
            public_key = _signers.public_pem(public_key)
        self._install_signer(lib.tokenclient_client_set_dpop_signer, function, _arg(alg, "alg"),
                             _arg(_key_text(public_key), "public_key"))

    def set_token_store(self, url: Optional[str], key: Optional[bytes] = None) -> None:
        """Shares get_token's tokens with the other processes that use the
        same store and credentials: "default" (a directory of this user's on
        this host), "file:///dir", "redis://..." or "rediss://...", or
        several separated by spaces (tiers, nearest first: "default
        redis://cache:6379"); None for none. `key` (16 to 1024 bytes) seals the entries instead of a key
        derived from the credential (needed for public clients, TLS client
        authentication and signers). See tokenclient_client_set_token_store."""
        self._set(lib.tokenclient_client_set_token_store, _arg(url, "url", optional=True))
        if key is not None:
            if not isinstance(key, bytes):
                raise TypeError(f"key must be bytes, not {type(key).__name__}")
            self._set(lib.tokenclient_client_set_token_store_key, key, len(key))

    def set_dpop_allow_bearer(self, allow: bool = True) -> None:
        """Whether a token of another type than DPoP is accepted when a
        proof was sent, for a server that does not bind tokens (default:
        refused, a ResponseError)."""
        if not isinstance(allow, bool):
            raise TypeError(f"allow must be True or False, not {type(allow).__name__}")
        self._set(lib.tokenclient_client_set_dpop_allow_bearer, int(allow))

    @property
    def dpop_thumbprint(self) -> str:
        """The DPoP key's JWK SHA-256 thumbprint (RFC 7638, base64url): the
        `jkt` of `Token.cnf` for tokens bound to it. ConfigError without a
        DPoP key."""
        return self._string(lib.tokenclient_client_dpop_thumbprint)

    def dpop_proof(self, method: str, url: str, access_token: Optional[str] = None,
                   nonce: Optional[str] = None) -> str:
        """A new DPoP proof (the `DPoP` header value) for a request of
        `method` to `url`: for a resource request, with the `access_token`
        (sent as `Authorization: DPoP <access_token>`, `Token.authorization`);
        None for a token endpoint. `nonce`: None for the one `url`'s origin
        gave last (see `dpop_answer`), if any. Make one for every request:
        servers refuse a proof used twice. A malformed `nonce` is a
        ResponseError, no DPoP key a ConfigError. No I/O."""
        args = (_arg(method, "method"), _arg(url, "url"), _arg(access_token, "access_token", True),
                _arg(nonce, "nonce", True))
        return self._call(lambda h: _owned_string(
            lambda out: lib.tokenclient_client_dpop_proof(h, *args, ctypes.byref(out))))

    def dpop_answer(self, url: str, status: int, www_authenticate: Optional[str] = None,
                    dpop_nonce: Optional[str] = None) -> bool:
        """Reads a resource server's answer to a DPoP request to `url`: its
        HTTP `status` and its `WWW-Authenticate` and `DPoP-Nonce` header
        values (None when absent). The nonce is kept for `url`'s origin, for
        the next `dpop_proof`. True when the answer is a nonce challenge (a
        401 `DPoP error="use_dpop_nonce"` with a nonce): send the request
        once more with a new proof. A malformed nonce is a ResponseError
        (not kept; do not retry). No I/O."""
        retry = ctypes.c_int32()
        args = (_arg(url, "url"), _uint(status, "status"), _arg(www_authenticate, "www_authenticate", True),
                _arg(dpop_nonce, "dpop_nonce", True))
        self._call(lambda h: check(lib.tokenclient_client_dpop_answer(h, *args, ctypes.byref(retry))))
        return bool(retry.value)

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

    def set_ca_file(self, path: Optional[Union[str, "os.PathLike[str]"]]) -> None:
        """Trusts the CAs in this PEM file (a str or os.PathLike path)
        instead of the system's; None restores the system's."""
        self._set(lib.tokenclient_client_set_ca_file, _path_or_text(path, "path"))

    def set_client_cert(self, cert: Optional[Union[str, bytes, "os.PathLike[str]"]],
                        key: Optional[Union[str, bytes, "os.PathLike[str]"]]) -> None:
        """Presents a client certificate in the TLS handshake (mutual TLS,
        RFC 8705): `cert` and `key` are each a PEM file's path (str or
        os.PathLike) or PEM text (str or bytes; told apart by
        `-----BEGIN`), both of one kind, the key unencrypted. Text is kept
        in the library's memory and wiped when replaced or when the client
        is closed (the Python str is not). Both None stops. Tokens obtained
        with it report it in `Token.cnf` when the server binds them to it;
        a client made with `from_issuer` whose metadata has
        `mtls_endpoint_aliases` sends its requests to the aliases while a
        certificate is set. See `set_tls_client_auth` to authenticate with
        it."""
        self._set(lib.tokenclient_client_set_client_cert, _path_or_text(cert, "cert"), _path_or_text(key, "key"))

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

    def _ex(self, fn: Callable[..., Optional[int]], args: Tuple[Any, ...], timeout: Optional[float],
            cancel: Optional[Cancel], out: Optional[ctypes.c_void_p] = None) -> None:
        """Runs an `_ex` call, `fn(handle, *args, options[, &out])`, with the
        options of `timeout` and `cancel` (see `_with_options`), raising
        its error; the client cannot be freed while it runs."""
        def run(options: Any) -> None:
            handle = self._acquire()
            try:
                if out is None:
                    check(fn(handle, *args, options))
                else:
                    check(fn(handle, *args, options, ctypes.byref(out)))
            finally:
                self._release()

        _with_options(timeout, cancel, run)

    def _token(self, fn: Callable[..., Optional[int]], args: Tuple[Any, ...],
               timeout: Optional[float], cancel: Optional[Cancel]) -> Token:
        """Runs an `_ex` call that writes a token to its last argument."""
        out = ctypes.c_void_p()
        self._ex(fn, args, timeout, cancel, out)
        return Token(out.value)  # it does not depend on the client

    def _json(self, fn: Callable[..., Optional[int]], args: Tuple[Any, ...],
              timeout: Optional[float], cancel: Optional[Cancel]) -> Dict[str, Any]:
        """Runs an `_ex` call that writes a JSON object (an owned string) to
        its last argument, and parses it."""
        out = ctypes.c_void_p()
        self._ex(fn, args, timeout, cancel, out)
        value: Dict[str, Any] = _json.loads(_ffi.take_string(out))
        return value

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: Optional[str] = None, *,
                      timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> Token:
        """The authorization_code grant, with PKCE when `code_verifier` is
        given. `timeout`: seconds for the whole call (default: the client's
        total timeout); `cancel`: a `Cancel` that stops it (then
        `CancelledError`). The same for every method that does I/O."""
        return self._token(
            lib.tokenclient_client_exchange_code_ex,
            (_arg(code, "code"), _arg(redirect_uri, "redirect_uri"), _arg(code_verifier, "code_verifier", True)),
            timeout, cancel,
        )

    def refresh(self, refresh_token: str, scope: Optional[str] = None, *,
                timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> Token:
        """The refresh_token grant."""
        return self._token(lib.tokenclient_client_refresh_ex,
                           (_arg(refresh_token, "refresh_token"), _arg(scope, "scope", True)), timeout, cancel)

    def client_credentials(self, scope: Optional[str] = None, *,
                           timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> Token:
        """The client_credentials grant."""
        return self._token(lib.tokenclient_client_client_credentials_ex, (_arg(scope, "scope", True),), timeout, cancel)

    # -- the token cache ------------------------------------------------------
    def get_token(self, scope: Optional[str] = None, *,
                  timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> Token:
        """A valid access token for `scope` from the client's cache, obtained
        (once, however many threads ask) when missing or due for refresh.

        The binding keeps the token it last got for each scope and hands it
        out without calling into the library for as long as the library
        says its cache would hand out that same token
        (`tokenclient_token_fresh_for_ms`), by both the monotonic and the
        wall clock. `invalidate_token`, every setter, a new token seen by
        the `on_token` hook and `close` drop it. (No snapshots while the
        client forwards debug events: the core logs each cache hit.)"""
        try:
            entry = self._snapshots.get(scope)
        except TypeError:  # unhashable: the C call says what is wrong
            entry = None
        if entry is not None and _monotonic() < entry[1] and _wall() < entry[2]:
            if timeout is not None or cancel is not None:
                _check_options(timeout, cancel)  # wrong ones fail, as they would in C
            return entry[0]
        return self._get_token(scope, timeout, cancel)

    def _get_token(self, scope: Optional[str], timeout: Optional[float], cancel: Optional[Cancel]) -> Token:
        """get_token from C, keeping a snapshot of the token while the core
        says it stays fresh."""
        generation = self._generation
        token = self._token(lib.tokenclient_client_get_token_ex, (_arg(scope, "scope", True),), timeout, cancel)
        if self._snapshots_on and (scope is None or type(scope) is str):
            # The clocks are read before C is asked, so the deadlines are
            # never later than the core's.
            mono, wall = _monotonic(), _wall()
            fresh_ms = lib.tokenclient_token_fresh_for_ms(token._handle)
            if fresh_ms > 0:
                fresh = fresh_ms / 1000
                with self._snapshot_lock:
                    if self._generation == generation and not self._closing:
                        self._snapshots[scope] = (token, mono + fresh, wall + fresh)
        return token

    def set_refresh_token(self, refresh_token: Optional[str]) -> None:
        """Makes `get_token` use this refresh token (following rotation);
        None goes back to client credentials."""
        self._set(lib.tokenclient_client_set_refresh_token, _arg(refresh_token, "refresh_token", True))

    def invalidate_token(self, scope: Optional[str] = None) -> None:
        """Drops the cached token of `scope`, e.g. after an API rejected it
        (the library's, then the binding's snapshot of it)."""
        try:
            self._call(lambda h: check(lib.tokenclient_client_invalidate_token(h, _arg(scope, "scope", True))))
        finally:
            self._drop_snapshots(scope)

    def on_token(self, callback: Optional[Callable[[Token], None]]) -> None:
        """Calls `callback(token)` with every token `get_token` obtains, so new
        tokens and rotated refresh tokens can be persisted. It runs on the
        thread that made the request (for a `get_token` with a timeout or a
        cancel handle, which every AsyncClient call has: a thread of the
        library's); exceptions it raises are printed, not raised. None
        removes it. Each new token also drops the binding's snapshots (see
        `get_token`)."""
        if callback is None:
            trampoline = _ffi.TOKEN_CALLBACK()
        else:
            owner = weakref.ref(self)

            def call(_user_data: Optional[int], handle: Optional[int]) -> None:
                try:
                    client = owner()
                    if client is not None:  # a new token: the snapshots are old
                        client._drop_snapshots()
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
        self._snapshots_on = level is None or level < _ffi.LOG_DEBUG

    def set_log_level(self, level: Optional[int]) -> None:
        """Forwards this client's events at `level` (a `logging` level) and
        above to `logging.getLogger("tokenclient")`; None stops. A new client
        forwards at the level that logger is enabled for when it is created
        (none when it is disabled), so call this after changing the logger's
        level. The logger still filters what it gets. While debug events are
        forwarded, every `get_token` asks the library (see `get_token`)."""
        self._forward_events(_events.c_level(level))

    def counters(self) -> Dict[str, Any]:
        """The client's counters since it was created: "requests" (attempts
        by grant), "errors" (failed calls by kind), "retries", "cache_hits",
        "cache_misses", "refreshes", "refresh_failures_kept_old",
        "singleflight_waits" and "latency_us" (requests by duration bucket).
        They are the library's: tokens handed out from the binding's
        snapshots (see `get_token`) are not cache hits of the library."""
        counters: Dict[str, Any] = _json.loads(self._string(lib.tokenclient_client_counters))
        return counters

    def grant(self, grant_type: str, *, timeout: Optional[float] = None, cancel: Optional[Cancel] = None,
              **params: Union[str, Iterable[str]]) -> Token:
        """Any grant, with form parameters; a list value repeats the name
        (e.g. `resource=["a", "b"]`). (`timeout` and `cancel` are this call's
        options, as for `exchange_code`, not form parameters.)"""
        pairs = list(_flatten(params.items()))
        array = (ctypes.c_char_p * (len(pairs) + 1))(*pairs, None)
        return self._token(lib.tokenclient_client_grant_ex, (_arg(grant_type, "grant_type"), array), timeout, cancel)

    def token_exchange(self, subject_token: str, subject_token_type: str, *, timeout: Optional[float] = None,
                       cancel: Optional[Cancel] = None, **params: Union[str, Iterable[str]]) -> Token:
        """Token exchange (RFC 8693): `subject_token` of `subject_token_type`
        (e.g. "urn:ietf:params:oauth:token-type:access_token") for a token of
        this client; `params` such as audience, resource, scope,
        requested_token_type, actor_token, actor_token_type (a list value
        repeats the name). The answer's issued_token_type is `token["issued_token_type"]`."""
        pairs = list(_flatten(params.items()))
        array = (ctypes.c_char_p * (len(pairs) + 1))(*pairs, None)
        args = (_arg(subject_token, "subject_token"), _arg(subject_token_type, "subject_token_type"), array)
        return self._token(lib.tokenclient_client_token_exchange_ex, args, timeout, cancel)

    # -- OpenID Connect (a client made with from_issuer) ----------------------
    def metadata(self, *, timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """The issuer's metadata document, parsed: the cached copy while
        fresh (its Cache-Control max-age, else an hour), else fetched again
        (a failed fetch keeps the cached copy). ConfigError for a client
        not made with `from_issuer`."""
        return self._json(lib.tokenclient_client_metadata_ex, (), timeout, cancel)

    def revoke(self, token: str, token_type_hint: Optional[str] = None, *,
               timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> None:
        """Revokes `token` (RFC 7009) at the issuer's revocation endpoint;
        `token_type_hint` is "access_token", "refresh_token" or None. A
        token the server does not know counts as revoked."""
        self._ex(lib.tokenclient_client_revoke_ex, (_arg(token, "token"), _arg(token_type_hint, "token_type_hint", True)),
                 timeout, cancel)

    def introspect(self, token: str, token_type_hint: Optional[str] = None, *,
                   timeout: Optional[float] = None, cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """The issuer's introspection (RFC 7662) of `token`: a dict with a
        boolean "active" (and, when active, what the server tells)."""
        return self._json(lib.tokenclient_client_introspect_ex,
                          (_arg(token, "token"), _arg(token_type_hint, "token_type_hint", True)), timeout, cancel)

    def userinfo(self, access_token: str, *, timeout: Optional[float] = None,
                 cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """The claims the issuer's userinfo endpoint gives for `access_token`
        (OpenID Connect Core 5.3). A refused token is an OAuthError or
        HTTPError with `status` 401."""
        return self._json(lib.tokenclient_client_userinfo_ex, (_arg(access_token, "access_token"),), timeout, cancel)

    def validate_id_token(self, id_token: str, nonce: Optional[str] = None, *, timeout: Optional[float] = None,
                          cancel: Optional[Cancel] = None) -> Dict[str, Any]:
        """The claims of `id_token` once validated as an ID token the issuer
        gave this client (OpenID Connect Core 3.1.3.7: the signature with
        the issuer's keys, iss, aud, azp, exp, iat, nbf, and `nonce` when
        given). A token that breaks a rule is a ResponseError naming the
        rule. `timeout`/`cancel` bound a fetch of the issuer's keys."""
        return self._json(lib.tokenclient_client_validate_id_token_ex,
                          (_arg(id_token, "id_token"), _arg(nonce, "nonce", True)), timeout, cancel)

    def authorization(self, redirect_uri: str, scope: Optional[str] = None, *,
                      params: Optional[Union[Mapping[str, Union[str, Iterable[str]]],
                                             Iterable[Tuple[str, str]]]] = None,
                      par: bool = False) -> "Authorization":
        """A new authorization code request (with PKCE, `state` and `nonce`)
        to come back to `redirect_uri`, for `scope` (include "openid" for
        an ID token): see `Authorization`. `params` (a mapping, where a list
        value repeats the name, or pairs) are more parameters (`prompt`,
        `login_hint`, `max_age`, ...: `Authorization.set_param`); `par=True`
        sends the request by PAR (RFC 9126), which the issuer may also
        require. No I/O."""
        from ._oidc import Authorization

        out = ctypes.c_void_p()
        self._call(lambda h: check(lib.tokenclient_authorization_new(
            h, _arg(redirect_uri, "redirect_uri"), _arg(scope, "scope", True), ctypes.byref(out))))
        auth = Authorization._adopt(out.value)
        try:
            if params is not None:
                if isinstance(params, (str, bytes)):
                    raise TypeError("params must be a mapping or (name, value) pairs, not a string")
                items = params.items() if isinstance(params, Mapping) else params
                for name, value in items:
                    for v in ([value] if isinstance(value, (str, bytes)) else value):
                        auth.set_param(name, cast(str, v))
            if par is not False:
                if par is not True:
                    raise TypeError(f"par must be True or False, not {type(par).__name__}")
                auth.set_par(True)
        except BaseException:
            auth.close()
            raise
        return auth

    def authorization_from_json(self, text: str) -> "Authorization":
        """The request `Authorization.to_json` wrote (for this issuer and
        client id). No I/O."""
        from ._oidc import Authorization

        return Authorization.from_json(self, text)

    def device_flow(self, scope: Optional[str] = None, *, timeout: Optional[float] = None,
                    cancel: Optional[Cancel] = None) -> "DeviceAuthorization":
        """Starts a device authorization (RFC 8628) for `scope` (None: the
        server's default): show the user its `user_code` and
        `verification_uri`, then `poll()` for the token."""
        from ._oidc import DeviceAuthorization

        out = ctypes.c_void_p()
        self._ex(lib.tokenclient_client_device_authorize_ex, (_arg(scope, "scope", True),), timeout, cancel, out)
        return DeviceAuthorization._adopt(self, out.value)


#: The constructor's keyword arguments and their defaults (from_issuer takes them too).
_KEYWORDS: Dict[str, Any] = dict(Client.__init__.__kwdefaults__ or {})


def _check_options(timeout: Optional[float], cancel: Optional[Cancel]) -> int:
    """Checks a call's options; returns its deadline_ms (0: the client's)."""
    if cancel is not None and not isinstance(cancel, Cancel):
        raise TypeError(f"cancel must be a tokenclient.Cancel, not {type(cancel).__name__}")
    return 0 if timeout is None else _ms(timeout, "timeout")


def _with_options(timeout: Optional[float], cancel: Optional[Cancel], run: Callable[[Any], T]) -> T:
    """`run(options)` with the `const tokenclient_call_options *` of a call
    of `timeout` and `cancel`: NULL (None) when neither is given, so the
    defaults apply. The cancel handle cannot be freed while it runs. Every
    `_ex` call of the binding goes through here."""
    if timeout is None and cancel is None:
        return run(None)
    options = _ffi.CallOptions(_OPTIONS_SIZE, _check_options(timeout, cancel), None)
    if cancel is None:
        return run(ctypes.byref(options))
    options.cancel = cancel._acquire()
    try:
        return run(ctypes.byref(options))
    finally:
        cancel._release()


def _auth_method(value: Union[AuthMethod, int, str]) -> AuthMethod:
    """An AuthMethod from itself, its int or its name ("client_secret_post")."""
    if isinstance(value, str):
        try:
            return AuthMethod[value.upper()]
        except KeyError:
            raise InvalidArgumentError(f"unknown auth_method {value!r}", _ffi.ERROR_INVALID_ARGUMENT) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"auth_method must be an AuthMethod, not {type(value).__name__}")
    return cast(AuthMethod, value)


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


__all__ = ["AuthMethod", "Cancel", "Client", "Token", "version"]
