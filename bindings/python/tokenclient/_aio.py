"""AsyncClient: the Client's I/O methods as coroutines.

The C calls block, so each runs on a thread of the AsyncClient's executor
with a `Cancel` of its own; cancelling the task that awaits it (task.cancel(),
asyncio.timeout, wait_for) fires that Cancel, so the C call ends within a few
milliseconds and gives its thread back, and the task gets
asyncio.CancelledError at once. A token the sync client holds a snapshot of
is returned with no thread hop at all.

get_token coalesces in Python as the core does in C: the tasks of one event
loop that ask for one scope while no snapshot is fresh share one C call (one
thread), each awaiting it through asyncio.shield, so a cancelled task leaves
the others waiting. When the last of them goes, that call is cancelled (its
wait ends; a request it started goes on in the core and lands in its cache).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Set, Tuple, TypeVar, Union

from . import _ffi
from ._client import Cancel, Client, Token, _monotonic, _ms, _wall
from ._errors import InvalidArgumentError, TransportError
from ._oidc import Authorization, DeviceAuthorization

T = TypeVar("T")


def _submit(pool: concurrent.futures.Executor, running: Set[Cancel], loop: asyncio.AbstractEventLoop,
            call: Callable[[Cancel], T]) -> Tuple["asyncio.Future[T]", Cancel]:
    """Starts `call(cancel)` on `pool` with a new Cancel, kept in `running`
    until the call ends (then closed)."""
    cancel = Cancel()

    def done() -> None:
        running.discard(cancel)
        cancel.close()

    def job() -> T:
        try:
            return call(cancel)
        finally:
            done()

    running.add(cancel)
    try:
        submitted = pool.submit(job)
    except BaseException:
        done()
        raise
    # A job cancelled before it started never runs its `finally`.
    submitted.add_done_callback(lambda f: done() if f.cancelled() else None)
    return asyncio.wrap_future(submitted, loop=loop), cancel


async def _run(pool: concurrent.futures.Executor, running: Set[Cancel], call: Callable[[Cancel], T]) -> T:
    """Awaits `call(cancel)` on a thread of `pool`; a cancelled task cancels it."""
    future, cancel = _submit(pool, running, asyncio.get_running_loop(), call)
    try:
        return await future
    except asyncio.CancelledError:
        cancel.cancel()  # the C call ends within a few ms; no one waits for it
        raise


def _new_pool() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(thread_name_prefix="tokenclient")


class _Flight:
    """One shared C get_token of one scope in one event loop."""

    __slots__ = ("loop", "future", "cancel", "waiters", "abandoned")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Token]", cancel: Cancel) -> None:
        self.loop = loop
        self.future = future
        self.cancel = cancel
        self.waiters = 0
        self.abandoned = False


class AsyncClient:
    """A client of one token endpoint for asyncio. Takes the arguments of
    `Client` (and `executor`: where the blocking C calls run; default: a
    thread pool of its own), or wraps one with `AsyncClient.from_client(c)`
    / `c.aio()`: both then share one C client, so its cache and single
    flight serve sync and async callers alike. `.sync` is that Client (its
    setters are the AsyncClient's). Close it with `aclose()` or
    `async with`; that closes the Client too."""

    def __init__(self, token_url: str, client_id: str, *,
                 executor: Optional[concurrent.futures.Executor] = None, **options: Any) -> None:
        self._setup(Client(token_url, client_id, **options), executor)

    def _setup(self, client: Client, executor: Optional[concurrent.futures.Executor]) -> None:
        if not isinstance(client, Client):
            raise TypeError(f"client must be a tokenclient.Client, not {type(client).__name__}")
        self._sync = client
        self._executor = executor
        self._own_executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._flights: Dict[Any, _Flight] = {}
        #: The Cancel of every call running, fired by aclose().
        self._running: Set[Cancel] = set()

    @classmethod
    def from_client(cls, client: Client, *, executor: Optional[concurrent.futures.Executor] = None) -> "AsyncClient":
        """An AsyncClient sharing `client`'s C client (see `Client.aio()`,
        which keeps one per Client)."""
        self = cls.__new__(cls)
        self._setup(client, executor)
        return self

    @classmethod
    def talkdesk(cls, account: str, client_id: str, region: str = "us", **options: Any) -> "AsyncClient":
        """`Client.talkdesk`, async."""
        executor = options.pop("executor", None)
        return cls.from_client(Client.talkdesk(account, client_id, region, **options), executor=executor)

    @classmethod
    def pingone(cls, env_id: str, client_id: str, auth_base: str = "https://auth.pingone.com",
                **options: Any) -> "AsyncClient":
        """`Client.pingone`, async."""
        executor = options.pop("executor", None)
        return cls.from_client(Client.pingone(env_id, client_id, auth_base, **options), executor=executor)

    @classmethod
    async def from_issuer(cls, issuer: str, client_id: str, *, executor: Optional[concurrent.futures.Executor] = None,
                          timeout: Optional[Union[float, Tuple[float, float]]] = None,
                          **options: Any) -> "AsyncClient":
        """`Client.from_issuer`, awaited (the discovery runs on the executor;
        a cancelled task cancels it)."""
        own: Optional[concurrent.futures.ThreadPoolExecutor] = None
        pool: concurrent.futures.Executor
        if executor is None:
            pool = own = _new_pool()
        else:
            pool = executor
        try:
            client = await _run(pool, set(), lambda c: Client.from_issuer(
                issuer, client_id, timeout=timeout, cancel=c, **options))
        except BaseException:
            if own is not None:
                own.shutdown(wait=False, cancel_futures=True)
            raise
        self = cls.from_client(client, executor=executor)
        self._own_executor = own
        return self

    @property
    def sync(self) -> Client:
        """The Client this one shares its C client with."""
        return self._sync

    @property
    def closed(self) -> bool:
        return self._sync.closed

    # -- running C calls -----------------------------------------------------
    def _pool(self) -> concurrent.futures.Executor:
        if self._sync.closed:
            raise InvalidArgumentError("the client is closed", _ffi.ERROR_INVALID_ARGUMENT)
        if self._executor is not None:
            return self._executor
        pool = self._own_executor
        if pool is None:
            pool = self._own_executor = _new_pool()
        return pool

    def _submit(self, loop: asyncio.AbstractEventLoop, call: Callable[[Cancel], T]) -> Tuple["asyncio.Future[T]", Cancel]:
        """Starts `call(cancel)` on the executor with a new Cancel, which is
        closed when the call ends (and fired by `close()` before)."""
        return _submit(self._pool(), self._running, loop, call)

    async def _run(self, call: Callable[[Cancel], T]) -> T:
        """Awaits `call(cancel)` on a thread; a cancelled task cancels it."""
        return await _run(self._pool(), self._running, call)

    # -- the I/O methods -------------------------------------------------------
    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: Optional[str] = None, *,
                            timeout: Optional[float] = None) -> Token:
        """`Client.exchange_code`, awaited. `timeout`: seconds for the whole
        call (the core's deadline: TransportError when it runs out)."""
        sync = self._sync
        return await self._run(lambda c: sync.exchange_code(code, redirect_uri, code_verifier, timeout=timeout, cancel=c))

    async def refresh(self, refresh_token: str, scope: Optional[str] = None, *,
                      timeout: Optional[float] = None) -> Token:
        """`Client.refresh`, awaited."""
        sync = self._sync
        return await self._run(lambda c: sync.refresh(refresh_token, scope, timeout=timeout, cancel=c))

    async def client_credentials(self, scope: Optional[str] = None, *, timeout: Optional[float] = None) -> Token:
        """`Client.client_credentials`, awaited."""
        sync = self._sync
        return await self._run(lambda c: sync.client_credentials(scope, timeout=timeout, cancel=c))

    async def grant(self, grant_type: str, *, timeout: Optional[float] = None,
                    **params: Union[str, Iterable[str]]) -> Token:
        """`Client.grant`, awaited."""
        sync = self._sync
        return await self._run(lambda c: sync.grant(grant_type, timeout=timeout, cancel=c, **params))

    async def create_assertion(self) -> str:
        """`Client.create_assertion` on the executor (RSA signing takes a
        millisecond or two)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool(), self._sync.create_assertion)

    async def get_token(self, scope: Optional[str] = None, *, timeout: Optional[float] = None) -> Token:
        """`Client.get_token`, awaited: the snapshot of a cached token at
        once, else one C call shared by this loop's tasks asking for `scope`
        (see the module). `timeout`: seconds this caller waits at most
        (then TransportError); the shared call goes on for the others."""
        try:
            entry = self._sync._snapshots.get(scope)
        except TypeError:
            entry = None
        if entry is not None and _monotonic() < entry[1] and _wall() < entry[2]:
            return entry[0]
        return await self._wait_for_flight(scope, timeout)

    async def _wait_for_flight(self, scope: Optional[str], timeout: Optional[float]) -> Token:
        wait_s = None if timeout is None else _ms(timeout, "timeout") / 1000
        loop = asyncio.get_running_loop()
        try:
            flight = self._flights.get(scope)
        except TypeError:  # unhashable: the C call says what is wrong
            return await self._run(lambda c: self._sync.get_token(scope, cancel=c))
        if flight is None or flight.abandoned or flight.loop is not loop:
            flight = self._start_flight(scope, loop)
        flight.waiters += 1
        try:
            shared = asyncio.shield(flight.future)
            if wait_s is None:
                return await shared
            try:
                return await asyncio.wait_for(shared, wait_s)
            except asyncio.TimeoutError:
                raise TransportError(
                    f"the call's deadline of {round(wait_s * 1000)} ms ran out while it waited for the token "
                    "request in flight", _ffi.ERROR_TRANSPORT) from None
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.future.done():
                self._abandon(scope, flight)

    def _start_flight(self, scope: Optional[str], loop: asyncio.AbstractEventLoop) -> _Flight:
        sync = self._sync
        future, cancel = self._submit(loop, lambda c: sync.get_token(scope, cancel=c))
        flight = _Flight(loop, future, cancel)
        self._flights[scope] = flight

        def landed(done: "asyncio.Future[Token]") -> None:
            if self._flights.get(scope) is flight:
                del self._flights[scope]
            if not done.cancelled():
                done.exception()  # retrieved: an abandoned flight's error is no one's

        future.add_done_callback(landed)
        return flight

    def _abandon(self, scope: Optional[str], flight: _Flight) -> None:
        """No task waits for `flight` any more: its C call stops waiting."""
        flight.abandoned = True
        if self._flights.get(scope) is flight:
            del self._flights[scope]
        flight.cancel.cancel()
        flight.future.cancel()

    # -- OpenID Connect (a client made with from_issuer) ----------------------
    async def metadata(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """`Client.metadata`, awaited."""
        sync = self._sync
        return await self._run(lambda c: sync.metadata(timeout=timeout, cancel=c))

    async def revoke(self, token: str, token_type_hint: Optional[str] = None, *,
                     timeout: Optional[float] = None) -> None:
        """`Client.revoke`, awaited."""
        sync = self._sync
        await self._run(lambda c: sync.revoke(token, token_type_hint, timeout=timeout, cancel=c))

    async def introspect(self, token: str, token_type_hint: Optional[str] = None, *,
                         timeout: Optional[float] = None) -> Dict[str, Any]:
        """`Client.introspect`, awaited."""
        sync = self._sync
        return await self._run(lambda c: sync.introspect(token, token_type_hint, timeout=timeout, cancel=c))

    async def userinfo(self, access_token: str, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """`Client.userinfo`, awaited."""
        sync = self._sync
        return await self._run(lambda c: sync.userinfo(access_token, timeout=timeout, cancel=c))

    async def validate_id_token(self, id_token: str, nonce: Optional[str] = None, *,
                                timeout: Optional[float] = None) -> Dict[str, Any]:
        """`Client.validate_id_token`, awaited (it may fetch the issuer's keys)."""
        sync = self._sync
        return await self._run(lambda c: sync.validate_id_token(id_token, nonce, timeout=timeout, cancel=c))

    def authorization(self, redirect_uri: str, scope: Optional[str] = None, *,
                      params: Optional[Union[Mapping[str, Union[str, Iterable[str]]],
                                             Iterable[Tuple[str, str]]]] = None,
                      par: bool = False) -> "AsyncAuthorization":
        """`Client.authorization` (no I/O), with async `url` and `finish`."""
        return AsyncAuthorization(self, self._sync.authorization(redirect_uri, scope, params=params, par=par))

    def authorization_from_json(self, text: str) -> "AsyncAuthorization":
        """`Client.authorization_from_json` (no I/O)."""
        return AsyncAuthorization(self, self._sync.authorization_from_json(text))

    async def device_flow(self, scope: Optional[str] = None, *,
                          timeout: Optional[float] = None) -> "AsyncDeviceAuthorization":
        """`Client.device_flow`, awaited, with an async `poll`."""
        sync = self._sync
        device = await self._run(lambda c: sync.device_flow(scope, timeout=timeout, cancel=c))
        return AsyncDeviceAuthorization(self, device)

    # -- no I/O --------------------------------------------------------------------
    def invalidate_token(self, scope: Optional[str] = None) -> None:
        """`Client.invalidate_token` (no I/O)."""
        self._sync.invalidate_token(scope)

    def counters(self) -> Dict[str, Any]:
        """`Client.counters` (no I/O)."""
        return self._sync.counters()

    @property
    def dpop_thumbprint(self) -> str:
        """`Client.dpop_thumbprint` (no I/O)."""
        return self._sync.dpop_thumbprint

    def dpop_proof(self, method: str, url: str, access_token: Optional[str] = None,
                   nonce: Optional[str] = None) -> str:
        """`Client.dpop_proof`, on the calling thread (no I/O; one signature,
        made for every resource request: microseconds with the default
        ES256, a millisecond or two with RSA)."""
        return self._sync.dpop_proof(method, url, access_token, nonce)

    def dpop_answer(self, url: str, status: int, www_authenticate: Optional[str] = None,
                    dpop_nonce: Optional[str] = None) -> bool:
        """`Client.dpop_answer` (no I/O)."""
        return self._sync.dpop_answer(url, status, www_authenticate, dpop_nonce)

    # -- closing -----------------------------------------------------------------
    def close(self) -> None:
        """Cancels the calls running (they raise CancelledError), closes the
        Client (freed once they have ended) and the executor of its own."""
        for cancel in list(self._running):
            cancel.cancel()
        self._sync.close()
        pool, self._own_executor = self._own_executor, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """`close()`."""
        self.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncClient closed={self.closed!r}>"


class AsyncAuthorization:
    """An `Authorization` of an AsyncClient (`aclient.authorization(...)`):
    `url` and `finish` are awaited, running on the AsyncClient's executor
    (a cancelled task cancels the C call; `aclose()` of the client cancels
    them). `.sync` is the Authorization. Close it with `close()`, `with` or
    `async with`."""

    __slots__ = ("_client", "_auth")

    def __init__(self, client: AsyncClient, auth: Authorization) -> None:
        if not isinstance(client, AsyncClient):
            raise TypeError(f"client must be a tokenclient.AsyncClient, not {type(client).__name__}")
        if not isinstance(auth, Authorization):
            raise TypeError(f"auth must be a tokenclient.Authorization, not {type(auth).__name__}")
        self._client = client
        self._auth = auth

    @property
    def sync(self) -> Authorization:
        """The Authorization this one awaits."""
        return self._auth

    def set_param(self, name: str, value: str) -> None:
        """`Authorization.set_param` (no I/O)."""
        self._auth.set_param(name, value)

    def set_par(self, use_par: bool = True) -> None:
        """`Authorization.set_par` (no I/O)."""
        self._auth.set_par(use_par)

    def to_json(self) -> str:
        """`Authorization.to_json` (a secret: it holds the PKCE verifier)."""
        return self._auth.to_json()

    async def url(self, *, timeout: Optional[float] = None) -> str:
        """`Authorization.url`, awaited (with PAR it makes a request)."""
        auth = self._auth
        return await self._client._run(lambda c: auth.url(timeout=timeout, cancel=c))

    async def finish(self, callback_url: str, *, timeout: Optional[float] = None) -> Token:
        """`Authorization.finish`, awaited."""
        auth = self._auth
        return await self._client._run(lambda c: auth.finish(callback_url, timeout=timeout, cancel=c))

    @property
    def closed(self) -> bool:
        return self._auth.closed

    def close(self) -> None:
        """`Authorization.close`."""
        self._auth.close()

    def __enter__(self) -> "AsyncAuthorization":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "AsyncAuthorization":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AsyncAuthorization closed={self.closed!r}>"


class AsyncDeviceAuthorization:
    """A `DeviceAuthorization` of an AsyncClient (`await
    aclient.device_flow(...)`), with `poll` awaited: cancelling the task
    that awaits it stops the polling within a few milliseconds. `.sync` is
    the DeviceAuthorization."""

    __slots__ = ("_client", "_device")

    def __init__(self, client: AsyncClient, device: DeviceAuthorization) -> None:
        if not isinstance(client, AsyncClient):
            raise TypeError(f"client must be a tokenclient.AsyncClient, not {type(client).__name__}")
        if not isinstance(device, DeviceAuthorization):
            raise TypeError(f"device must be a tokenclient.DeviceAuthorization, not {type(device).__name__}")
        self._client = client
        self._device = device

    @property
    def sync(self) -> DeviceAuthorization:
        """The DeviceAuthorization this one awaits."""
        return self._device

    @property
    def user_code(self) -> str:
        return self._device.user_code

    @property
    def verification_uri(self) -> str:
        return self._device.verification_uri

    @property
    def verification_uri_complete(self) -> Optional[str]:
        return self._device.verification_uri_complete

    @property
    def expires_in(self) -> int:
        return self._device.expires_in

    async def poll(self, *, timeout: Optional[float] = None) -> Token:
        """`DeviceAuthorization.poll`, awaited."""
        device = self._device
        return await self._client._run(lambda c: device.poll(timeout=timeout, cancel=c))

    @property
    def closed(self) -> bool:
        return self._device.closed

    def close(self) -> None:
        """`DeviceAuthorization.close`."""
        self._device.close()

    def __enter__(self) -> "AsyncDeviceAuthorization":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "AsyncDeviceAuthorization":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AsyncDeviceAuthorization user_code={self.user_code!r} closed={self.closed!r}>"


__all__ = ["AsyncAuthorization", "AsyncClient", "AsyncDeviceAuthorization"]
