"""What the HTTP adapters (tokenclient.requests, tokenclient.httpx) share;
imports neither library."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, MutableMapping, Optional, Union

from ._client import Client, Token
from ._errors import ResponseError

if TYPE_CHECKING:
    from ._aio import AsyncClient

#: An `error="invalid_token"` parameter of a WWW-Authenticate challenge
#: (RFC 6750 §3.1): the parameter name in any case, the code as it is.
_INVALID_TOKEN = re.compile(r'(?:^|[\s,])(?i:error)\s*=\s*(?:"invalid_token"|invalid_token)(?=$|[\s,;])')

#: What `Attempt.answered` returns: send again with the same token and a new
#: proof (a DPoP nonce challenge), or with a new token (invalid_token).
NONCE = "nonce"
RENEW = "renew"


def invalid_token(www_authenticate: Optional[str]) -> bool:
    """Whether a 401's WWW-Authenticate says the token was rejected."""
    return bool(www_authenticate) and _INVALID_TOKEN.search(www_authenticate or "") is not None


def authorization(token: Token) -> str:
    """The Authorization header value of `token`, as the library writes it
    (`Token.authorization`: "DPoP <access_token>" or "Bearer <access_token>")."""
    return token.authorization


def sync_client(client: Union[Client, "AsyncClient"]) -> Client:
    """The Client of `client` (itself, or an AsyncClient's `.sync`)."""
    if isinstance(client, Client):
        return client
    sync = getattr(client, "sync", None)
    if not isinstance(sync, Client):
        raise TypeError(f"client must be a tokenclient.Client or AsyncClient, not {type(client).__name__}")
    return sync


def renewed(client: Client, scope: Optional[str], rejected: str) -> Token:
    """After a resource server rejected the header `rejected`: drops that
    token (unless another caller has already replaced it) and returns the
    new one."""
    current = client.get_token(scope)
    if authorization(current) != rejected:
        return current
    client.invalidate_token(scope)
    return client.get_token(scope)


class Attempt:
    """One request sent through a TokenAuth, and its resends: at most one
    to answer a DPoP nonce challenge (with the same token and a new proof)
    and one with a new token after `error="invalid_token"`, in either
    order, so three sends at most."""

    __slots__ = ("client", "token", "header", "dpop", "nonce_retried", "renewed")

    def __init__(self, client: Client, token: Token) -> None:
        self.client = client
        #: The token of the last send (`attach`), and its Authorization header value.
        self.token = token
        self.header = ""
        #: Whether the last send carried a DPoP proof.
        self.dpop = False
        self.nonce_retried = False
        self.renewed = False

    def attach(self, token: Token, method: str, url: str, headers: MutableMapping[str, Any]) -> None:
        """Sets `headers` for a send of `method` to `url` with `token`: its
        Authorization header, and for a DPoP token a new proof (a proof of
        an earlier send goes)."""
        self.token = token
        self.header = authorization(token)
        # The library writes the DPoP scheme exactly for tokens bound to the
        # DPoP key: those need a proof with every request (RFC 9449 §7.1).
        self.dpop = self.header.startswith("DPoP ")
        headers["Authorization"] = self.header
        if self.dpop:
            headers["DPoP"] = self.client.dpop_proof(method, url, token.access_token)
        else:
            headers.pop("DPoP", None)

    def answered(self, url: str, status: int, www_authenticate: Optional[str], dpop_nonce: Optional[str],
                 replayable: bool) -> Optional[str]:
        """After the answer to a send of this attempt (one that carried its
        header) to `url`: NONCE or RENEW to send the request again (when
        its body can be sent again, `replayable`), None to keep the answer.
        A DPoP answer's nonce is kept for its origin whatever its status; a
        malformed one is not kept and not answered (the answer stays)."""
        if self.dpop:
            try:
                challenged = self.client.dpop_answer(url, status, www_authenticate, dpop_nonce)
            except ResponseError:
                challenged = False
            if challenged and replayable and not self.nonce_retried:
                self.nonce_retried = True
                return NONCE
        if status == 401 and replayable and not self.renewed and invalid_token(www_authenticate):
            self.renewed = True
            return RENEW
        return None
