"""What the HTTP adapters (tokenclient.requests, tokenclient.httpx) share;
imports neither library."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional, Union

from ._client import Client, Token

if TYPE_CHECKING:
    from ._aio import AsyncClient

#: An `error="invalid_token"` parameter of a WWW-Authenticate challenge
#: (RFC 6750 §3.1): the parameter name in any case, the code as it is.
_INVALID_TOKEN = re.compile(r'(?:^|[\s,])(?i:error)\s*=\s*(?:"invalid_token"|invalid_token)(?=$|[\s,;])')


def invalid_token(www_authenticate: Optional[str]) -> bool:
    """Whether a 401's WWW-Authenticate says the token was rejected."""
    return bool(www_authenticate) and _INVALID_TOKEN.search(www_authenticate or "") is not None


def authorization(token: Token) -> str:
    """The Authorization header value of `token`: "<token_type> <access_token>"."""
    return f"{token.token_type} {token.access_token}"


def sync_client(client: Union[Client, "AsyncClient"]) -> Client:
    """The Client of `client` (itself, or an AsyncClient's `.sync`)."""
    if isinstance(client, Client):
        return client
    sync = getattr(client, "sync", None)
    if not isinstance(sync, Client):
        raise TypeError(f"client must be a tokenclient.Client or AsyncClient, not {type(client).__name__}")
    return sync


def renewed(client: Client, scope: Optional[str], rejected: str) -> str:
    """After a resource server rejected the header `rejected`: drops that
    token (unless another caller has already replaced it) and returns the
    header of the new one."""
    current = authorization(client.get_token(scope))
    if current != rejected:
        return current
    client.invalidate_token(scope)
    return authorization(client.get_token(scope))
