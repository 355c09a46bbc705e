"""tokenclient: OAuth 2.0 / OpenID Connect tokens with RFC 7523 client
assertions, through libtokenclient.

    from tokenclient import Client, OAuthError

    with Client(token_url, client_id="abc", private_key=key_text, key_id="k1") as client:
        token = client.exchange_code(code, redirect_uri=uri)
        token.access_token, token.expires_in, token["sid"]
        client.get_token("read", timeout=5)     # cached; one request however many ask

`AsyncClient` has the same I/O methods as coroutines; `tokenclient.requests`
and `tokenclient.httpx` attach tokens to those HTTP clients (importing
`tokenclient` imports neither).
"""

from typing import TYPE_CHECKING, Any

from ._client import AuthMethod, Cancel, Client, Token, version
from ._errors import (
    CancelledError,
    ConfigError,
    HTTPError,
    InternalError,
    InvalidArgumentError,
    KeyFormatError,
    OAuthError,
    ResponseError,
    TokenClientError,
    TransportError,
)

if TYPE_CHECKING:
    from ._aio import AsyncClient


def __getattr__(name: str) -> Any:
    # AsyncClient is imported on first use: asyncio takes tens of ms to
    # import, which programs that never use it need not pay.
    if name == "AsyncClient":
        from ._aio import AsyncClient

        return AsyncClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncClient",
    "AuthMethod",
    "Cancel",
    "CancelledError",
    "Client",
    "ConfigError",
    "HTTPError",
    "InternalError",
    "InvalidArgumentError",
    "KeyFormatError",
    "OAuthError",
    "ResponseError",
    "Token",
    "TokenClientError",
    "TransportError",
    "version",
]
