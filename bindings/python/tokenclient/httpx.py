"""tokenclient for httpx: `TokenAuth` attaches a client's token to every
request, for httpx.Client and httpx.AsyncClient.

    import httpx
    from tokenclient.httpx import TokenAuth

    async with httpx.AsyncClient(auth=TokenAuth(aclient, scope="read")) as http:
        await http.get("https://api.example/things")

Importing this module imports httpx (a separate install); importing
`tokenclient` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncGenerator, Generator, Optional, Union

import httpx  # the httpx package (absolute import), not this module

from ._client import Client, Token
from ._http import NONCE, Attempt, authorization, renewed, sync_client

if TYPE_CHECKING:
    from ._aio import AsyncClient


def _step(attempt: Attempt, request: httpx.Request, response: httpx.Response) -> Optional[str]:
    """Whether to send `request` once more, and how (see `Attempt.answered`):
    only after an answer to a request carrying this token (after a redirect
    to another origin httpx has removed it), and only when its body can be
    sent again (none, bytes or str; not a generator or a file)."""
    if response.status_code != 401 and not attempt.dpop:
        return None
    sent = response.request
    if sent.headers.get("Authorization") != attempt.header:
        return None
    return attempt.answered(str(sent.url), response.status_code, response.headers.get("WWW-Authenticate"),
                            response.headers.get("DPoP-Nonce"), isinstance(request.stream, httpx.ByteStream))


class TokenAuth(httpx.Auth):
    """Sets `Authorization` from the client's `get_token(scope)`: a
    Client's in `httpx.Client`, an AsyncClient's (awaited, never blocking
    the loop) in `httpx.AsyncClient`; either kind of tokenclient client
    serves both (`Client.aio()`, `AsyncClient.sync`). The value is
    `Token.authorization`, i.e. "Bearer <access token>", or "DPoP <access
    token>" for a token bound to the client's DPoP key
    (`Client.set_dpop_key`), sent with a new `DPoP` proof of the request's
    method and URL (`Client.dpop_proof`, made on the calling thread: an
    ES256 signature takes microseconds).

    On a 401 whose WWW-Authenticate says `error="invalid_token"`, the token
    is dropped and the request sent once more with a new one; for a DPoP
    token, the answers' `DPoP-Nonce` is kept for the next proofs
    (`Client.dpop_answer`), and a nonce challenge (`DPoP
    error="use_dpop_nonce"`) is answered by sending the request once more
    with a proof of that nonce. Each of those resends happens at most once
    per request (three sends at most), and only when the body can be sent
    again; the 401s are then in the response's `history`. httpx strips the
    header from a redirect to another origin, and this auth never adds it
    back; the `DPoP` header, made for the first URL, is not made again for
    a redirect."""

    def __init__(self, client: Union[Client, "AsyncClient"], scope: Optional[str] = None) -> None:
        self.client = sync_client(client)
        self._aio = None if isinstance(client, Client) else client
        self.scope = scope

    def _async_client(self) -> "AsyncClient":
        if self._aio is None:
            self._aio = self.client.aio()
        return self._aio

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.client.get_token(self.scope)
        attempt = Attempt(self.client, token)
        while True:
            attempt.attach(token, request.method, str(request.url), request.headers)
            response = yield request
            step = _step(attempt, request, response)
            if step is None:
                return
            token = attempt.token if step == NONCE else renewed(self.client, self.scope, attempt.header)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        aio = self._async_client()
        token = await aio.get_token(self.scope)
        attempt = Attempt(self.client, token)
        while True:
            attempt.attach(token, request.method, str(request.url), request.headers)
            response = yield request
            step = _step(attempt, request, response)
            if step is None:
                return
            if step != NONCE:
                token = await self._renewed(aio, attempt.header)

    async def _renewed(self, aio: "AsyncClient", rejected: str) -> Token:
        """`renewed`, awaited."""
        current = await aio.get_token(self.scope)
        if authorization(current) != rejected:  # already replaced by another caller
            return current
        aio.invalidate_token(self.scope)
        return await aio.get_token(self.scope)


__all__ = ["TokenAuth"]
