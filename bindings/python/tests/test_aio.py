"""AsyncClient (issue 23): single flight across asyncio tasks, cancelled
waiters, the event loop's lag, and one flight shared with sync callers.
Against tests/conn_server.py, whose "slow..." scopes are answered after
1.5 s and which records every request it gets; and the real OpenID Connect
server for the exchanges."""

import asyncio
import gc
import threading
import time

import pytest

import tokenclient
from conn_server import SLOW_SECONDS, ConnServer
from tokenclient import AsyncClient, AuthMethod, Client

SECRET = "aio-secret-0123456789abcdefghij"


@pytest.fixture(scope="module")
def conn_server():
    with ConnServer() as server:
        yield server


def requests_for(server, scope):
    return sum(1 for r in server.seen if r["scope"] == scope)


def new_async(url, **kw):
    return AsyncClient(url, "aio-client", client_secret=SECRET, auth_method=AuthMethod.CLIENT_SECRET_POST,
                       proxy="", **kw)


async def ticker(seconds, interval=0.001):
    """The largest lateness of a task that sleeps `interval` s at a time for
    `seconds` s: how long the event loop was kept from running it."""
    worst = 0.0
    end = time.monotonic() + seconds
    due = time.monotonic() + interval
    while True:
        await asyncio.sleep(interval)
        now = time.monotonic()
        worst = max(worst, now - due)
        if now >= end:
            return worst
        due = now + interval


def test_1000_tasks_half_cancelled_share_one_request(conn_server):
    scope = "slow-1000"

    async def main():
        async with new_async(conn_server.url) as a:
            tasks = [asyncio.ensure_future(a.get_token(scope)) for _ in range(1000)]
            await asyncio.sleep(0.3)  # every task waits; the request is under way
            assert requests_for(conn_server, scope) == 1 and not any(t.done() for t in tasks)
            cancelled_at = time.monotonic()
            for t in tasks[::2]:
                t.cancel()
            gone = await asyncio.gather(*tasks[::2], return_exceptions=True)
            cancelled_took = time.monotonic() - cancelled_at
            tokens = await asyncio.gather(*tasks[1::2])
            return gone, cancelled_took, tokens, time.monotonic() - cancelled_at

    gone, cancelled_took, tokens, total = asyncio.run(main())
    print(f"\n500 cancelled waiters ended {cancelled_took * 1000:.1f} ms after their cancel(); "
          f"the other 500 got the token {total:.3f} s after it; requests: {requests_for(conn_server, scope)}")
    assert all(isinstance(g, asyncio.CancelledError) for g in gone)
    assert cancelled_took < 0.150
    assert len(tokens) == 500 and len({t.access_token for t in tokens}) == 1
    assert tokens[0].access_token.startswith(scope + "|")
    assert requests_for(conn_server, scope) == 1


#: The event loop's lag must stay under this while a C call runs, or under
#: twice what the same loop lags idle just before. Another thread that holds
#: the GIL (the test server in this process) keeps the loop waiting up to
#: one switch interval (5 ms) plus the OS's scheduling: 5-13 ms seen on the
#: 2-core CI machine; a loop blocked by the call would lag 1.5 s.
LAG_BOUND = 0.020
#: A loop blocked by the call would lag by the whole call (1.5 s); a
#: measurement over the bound is repeated (at most twice) and the best one
#: must be under it, and every one far under a blocked loop's.
LAG_ATTEMPTS = 3


def bound(idle):
    """The lag the best measurement must stay under."""
    return max(LAG_BOUND, 2 * idle)


def judge_lags(lags, idle):
    assert min(lags) < bound(idle), (lags, idle)
    assert max(lags) < 0.1, lags


def test_10000_awaits_of_an_invalidated_token_make_one_request_and_the_loop_runs(conn_server):
    scope = "slow-10k"

    async def one_round(a, old):
        a.invalidate_token(scope)
        before = requests_for(conn_server, scope)
        started = time.monotonic()
        tasks = [asyncio.ensure_future(a.get_token(scope)) for _ in range(10000)]
        await asyncio.sleep(0.1)  # every task has started waiting
        spawned = time.monotonic() - started
        gc.collect()  # not during the measurement
        waiting = sum(f.waiters for f in a._flights.values())
        # Measured while the request is in flight (it takes 1.5 s).
        lag = await ticker(SLOW_SECONDS - (time.monotonic() - started) - 0.3)
        assert not any(t.done() for t in tasks), "measured during the exchange"
        tokens = await asyncio.gather(*tasks)
        took = time.monotonic() - started
        new_requests = requests_for(conn_server, scope) - before
        print(f"\n10,000 awaits: {new_requests} new request, tokens after {took:.3f} s; the loop's largest "
              f"lag during the exchange: {lag * 1000:.2f} ms (starting the tasks took {spawned * 1000:.0f} ms)")
        assert waiting == 10000
        assert len({t.access_token for t in tokens}) == 1 and tokens[0] is not old
        assert new_requests == 1
        return lag, tokens[0]

    async def main():
        async with new_async(conn_server.url) as a:
            token = await a.get_token(scope)
            idle = await ticker(0.3)
            lags = []
            while len(lags) < LAG_ATTEMPTS and (not lags or lags[-1] >= bound(idle)):
                lag, token = await one_round(a, token)
                lags.append(lag)
            return lags, idle

    judge_lags(*asyncio.run(main()))


def test_a_slow_exchange_does_not_block_the_loop(conn_server):
    async def main():
        async with new_async(conn_server.url) as a:
            lags = []
            idle = await ticker(0.3)
            while len(lags) < LAG_ATTEMPTS and (not lags or lags[-1] >= bound(idle)):
                before = requests_for(conn_server, "slow-lag")
                exchange = asyncio.ensure_future(a.client_credentials("slow-lag"))
                # From when the test server (a thread of this process, which
                # holds the GIL while it reads the request) is asleep.
                while requests_for(conn_server, "slow-lag") == before:
                    await asyncio.sleep(0.001)
                await asyncio.sleep(0.01)
                gc.collect()  # not during the measurement
                lags.append(await ticker(1.0))
                assert not exchange.done(), "measured during the exchange"
                assert (await exchange).access_token.startswith("slow-lag|")
                print(f"\nthe loop's largest lag during a 1.5 s exchange: {lags[-1] * 1000:.2f} ms "
                      f"(idle, before: {idle * 1000:.2f} ms)")
            return lags, idle

    judge_lags(*asyncio.run(main()))


def test_sync_and_async_callers_share_one_flight(conn_server):
    scope = "slow-shared"
    client = Client(conn_server.url, "aio-client", client_secret=SECRET, auth_method="client_secret_post", proxy="")
    a = client.aio()
    assert a is client.aio() and a.sync is client and AsyncClient.from_client(client).sync is client
    sync_tokens = []
    thread = threading.Thread(target=lambda: sync_tokens.append(client.get_token(scope)))

    async def main():
        thread.start()
        await asyncio.sleep(0.1)  # the sync caller's request is under way
        tasks = [asyncio.ensure_future(a.get_token(scope)) for _ in range(100)]
        return await asyncio.gather(*tasks)

    tokens = asyncio.run(main())
    thread.join()
    assert len({t.access_token for t in tokens + sync_tokens}) == 1
    assert requests_for(conn_server, scope) == 1
    assert client.counters()["singleflight_waits"] >= 1, "the async flight waited for the sync request"
    # And the other way round: async first, then a sync caller.
    client.invalidate_token(scope)

    async def async_first():
        task = asyncio.ensure_future(a.get_token(scope))
        await asyncio.sleep(0.1)
        sync = asyncio.get_running_loop().run_in_executor(None, client.get_token, scope)
        return await task, await sync

    first, second = asyncio.run(async_first())
    assert first.access_token == second.access_token
    assert requests_for(conn_server, scope) == 2, "one more request, for both"
    client.close()
    assert a.closed


def test_when_every_waiter_is_cancelled_the_request_still_lands(conn_server):
    """The last cancelled waiter cancels the shared C call (its thread is
    given back at once); the core's request goes on and its token lands in
    the cache, so the next caller gets it without a second request."""
    scope = "slow-abandoned"

    async def main():
        async with new_async(conn_server.url) as a:
            tasks = [asyncio.ensure_future(a.get_token(scope)) for _ in range(10)]
            await asyncio.sleep(0.2)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            cancelled_at = time.monotonic()
            while a._running and time.monotonic() - cancelled_at < 5:
                await asyncio.sleep(0.001)
            freed = time.monotonic() - cancelled_at
            assert not a._flights
            await asyncio.sleep(SLOW_SECONDS)  # the request lands meanwhile
            token = await a.get_token(scope)
            return freed, token

    freed, token = asyncio.run(main())
    print(f"\nthe abandoned C call ended {freed * 1000:.1f} ms after the last waiter was cancelled")
    assert freed < 0.150
    assert token.access_token.startswith(scope + "|")
    assert requests_for(conn_server, scope) == 1


def test_a_failed_flight_gives_every_waiter_the_error():
    async def main():
        # Nothing listens on port 9 of loopback: connection refused.
        async with AsyncClient("http://127.0.0.1:9/token", "x", public=True, retry_policy=0) as a:
            results = await asyncio.gather(*(a.get_token("nothing") for _ in range(50)), return_exceptions=True)
            return results, a.counters()

    results, counters = asyncio.run(main())
    assert all(isinstance(r, tokenclient.TransportError) for r in results)
    assert sum(counters["requests"].values()) == 1


def test_the_exchanges_against_the_real_server(server):
    m = server.client("es256-client")

    async def main():
        async with AsyncClient(server.token_url("es256-client"), m["client_id"], private_key=m["private_key_pem"],
                               key_id=m["kid"]) as a:
            code = await asyncio.get_running_loop().run_in_executor(None, server.code, "es256-client")
            tok = await a.exchange_code(code, server.redirect_uri)
            refreshed = await a.refresh(tok.refresh_token)
            cc = await a.client_credentials("read")
            granted = await a.grant("client_credentials", scope="write")
            assertion = await a.create_assertion()
            cached = await a.get_token("read")
            again = await a.get_token("read")
            return tok, refreshed, cc, granted, assertion, cached, again, a.counters()

    tok, refreshed, cc, granted, assertion, cached, again, counters = asyncio.run(main())
    assert tok.id_token and refreshed.access_token != tok.access_token
    assert cc.scope == "read" and granted.scope == "write"
    assert assertion.count(".") == 2
    assert again is cached and counters["cache_hits"] == 0, "the second came from the snapshot"


def test_async_with_closes_and_the_executor_can_be_given(conn_server):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2, thread_name_prefix="mine") as pool:
        submitted = []
        real_submit = pool.submit

        def submit(fn, *args, **kwargs):
            submitted.append(fn)
            return real_submit(fn, *args, **kwargs)

        pool.submit = submit

        async def main():
            async with new_async(conn_server.url, executor=pool) as a:
                await a.client_credentials("exec-1")
                await a.get_token("exec-2")
                await a.get_token("exec-2")  # the snapshot: no thread
            return a

        a = asyncio.run(main())
        assert a.closed and a.sync.closed
        assert len(submitted) == 2 and a._own_executor is None
        assert real_submit(lambda: 7).result() == 7, "a given executor is not shut down"
