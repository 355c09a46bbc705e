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
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple, Union

from . import _ffi
from ._client import Cancel, Client, Token, _monotonic, _ms, _wall
from ._errors import InvalidArgumentError, TransportError


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
            pool = self._own_executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="tokenclient")
        return pool

    def _submit(self, loop: asyncio.AbstractEventLoop, call: Callable[[Cancel], Token]) -> Tuple["asyncio.Future[Token]", Cancel]:
        """Starts `call(cancel)` on the executor with a new Cancel, which is
        closed when the call ends."""
        pool = self._pool()
        cancel = Cancel()
        running = self._running

        def done() -> None:
            running.discard(cancel)
            cancel.close()

        def job() -> Token:
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

    async def _run(self, call: Callable[[Cancel], Token]) -> Token:
        """Awaits `call(cancel)` on a thread; a cancelled task cancels it."""
        future, cancel = self._submit(asyncio.get_running_loop(), call)
        try:
            return await future
        except asyncio.CancelledError:
            cancel.cancel()  # the C call ends within a few ms; no one waits for it
            raise

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

    # -- no I/O --------------------------------------------------------------------
    def invalidate_token(self, scope: Optional[str] = None) -> None:
        """`Client.invalidate_token` (no I/O)."""
        self._sync.invalidate_token(scope)

    def counters(self) -> Dict[str, Any]:
        """`Client.counters` (no I/O)."""
        return self._sync.counters()

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


__all__ = ["AsyncClient"]
