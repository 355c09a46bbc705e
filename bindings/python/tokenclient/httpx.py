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

from ._client import Client
from ._http import authorization, invalid_token, renewed, sync_client

if TYPE_CHECKING:
    from ._aio import AsyncClient


def _retry(request: httpx.Request, response: httpx.Response, sent: str) -> bool:
    """Whether to send `request` once more with a new token: a 401 saying
    `error="invalid_token"`, answered to a request carrying this token (after
    a redirect to another origin httpx has removed it), whose body can be
    sent again (none, bytes or str; not a generator or a file)."""
    return (
        response.status_code == 401
        and invalid_token(response.headers.get("WWW-Authenticate"))
        and response.request.headers.get("Authorization") == sent
        and isinstance(request.stream, httpx.ByteStream)
    )


class TokenAuth(httpx.Auth):
    """Sets `Authorization: <token_type> <access_token>` from the client's
    `get_token(scope)`: a Client's in `httpx.Client`, an AsyncClient's
    (awaited, never blocking the loop) in `httpx.AsyncClient`; either kind
    of tokenclient client serves both (`Client.aio()`, `AsyncClient.sync`).

    On a 401 whose WWW-Authenticate says `error="invalid_token"`, the token
    is dropped and the request sent once more with a new one, when its body
    can be sent again; the 401 is then in the response's `history`. httpx
    strips the header from a redirect to another origin, and this auth
    never adds it back."""

    def __init__(self, client: Union[Client, "AsyncClient"], scope: Optional[str] = None) -> None:
        self.client = sync_client(client)
        self._aio = None if isinstance(client, Client) else client
        self.scope = scope

    def _async_client(self) -> "AsyncClient":
        if self._aio is None:
            self._aio = self.client.aio()
        return self._aio

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent = authorization(self.client.get_token(self.scope))
        request.headers["Authorization"] = sent
        response = yield request
        if _retry(request, response, sent):
            request.headers["Authorization"] = renewed(self.client, self.scope, sent)
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        aio = self._async_client()
        sent = authorization(await aio.get_token(self.scope))
        request.headers["Authorization"] = sent
        response = yield request
        if _retry(request, response, sent):
            current = authorization(await aio.get_token(self.scope))
            if current == sent:  # not yet replaced by another caller
                aio.invalidate_token(self.scope)
                current = authorization(await aio.get_token(self.scope))
            request.headers["Authorization"] = current
            yield request


__all__ = ["TokenAuth"]
