"""A client used before fork(): parent and children then make concurrent
exchanges against tests/conn_server.py, whose tokens name the scope asked
for and the connection that carried it. Every token must reach the process
and thread that asked, no process may use another's connection, and the
parent keeps its pooled connection. With os.fork() and with
multiprocessing's fork start method (what gunicorn --preload and
multiprocessing pools do)."""

import multiprocessing
import threading

import pytest

from conn_server import ConnServer, parse
from forked import Forked
from tokenclient import AuthMethod, Client

THREADS = 4
PER_THREAD = 25


@pytest.fixture(scope="module")
def conn_server():
    with ConnServer() as server:
        yield server


def new_client(url):
    client = Client(url, "fork-client")
    client.set_client_secret("fork-secret-0123456789", AuthMethod.CLIENT_SECRET_POST)
    return client


def exchanges(client, who):
    """THREADS threads of PER_THREAD exchanges, each with its own scope.
    Returns (the connections used, the tokens that answered another scope
    or failed)."""
    conns, wrong = [], []
    lock = threading.Lock()

    def work(thread):
        for i in range(PER_THREAD):
            scope = f"{who}-{thread}-{i}"
            try:
                got, conn = parse(client.client_credentials(scope).access_token)
            except Exception as e:  # any failure is a wrong answer here
                got, conn = repr(e), -1
            with lock:
                conns.append(conn)
                if got != scope:
                    wrong.append((scope, got))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return conns, wrong


def test_os_fork_after_exchange_and_get_token(conn_server):
    client = new_client(conn_server.url)
    _, before = parse(client.client_credentials("warmup").access_token)
    cached = client.get_token("cached").access_token

    def in_child():
        conns, wrong = exchanges(client, "child")
        return {"conns": conns, "wrong": wrong, "cached": client.get_token("cached").access_token}

    forked = Forked(in_child)
    conns, wrong = exchanges(client, "parent")
    child, code = forked.result()
    assert code == 0
    assert wrong == [] and child["wrong"] == []
    assert -1 not in conns and -1 not in child["conns"]
    assert set(conns).isdisjoint(child["conns"]), "parent and child shared a connection"
    assert before not in child["conns"], "the child used the parent's pooled connection"
    assert before in conns, "the parent keeps its pool"
    assert child["cached"] == cached, "the child starts with the parent's cached token"
    client.close()


_inherited = None  # the client the multiprocessing workers inherit


def _worker(index):
    conns, wrong = exchanges(_inherited, f"worker{index}")
    return conns, wrong


def test_multiprocessing_fork_start_method(conn_server):
    global _inherited
    _inherited = new_client(conn_server.url)
    try:
        _, before = parse(_inherited.client_credentials("warmup").access_token)
        context = multiprocessing.get_context("fork")
        with context.Pool(3) as pool:
            pending = pool.map_async(_worker, range(3))
            conns, wrong = exchanges(_inherited, "parent")
            workers = pending.get(timeout=120)
        assert wrong == [] and all(w == [] for _, w in workers)
        seen = [set(conns)] + [set(c) for c, _ in workers]
        assert all(-1 not in s for s in seen)
        for i, a in enumerate(seen):
            for b in seen[i + 1:]:
                assert a.isdisjoint(b), "two processes shared a connection"
        assert all(before not in s for s in seen[1:]), "a worker used the parent's pooled connection"
        assert before in seen[0], "the parent keeps its pool"
    finally:
        _inherited.close()
        _inherited = None
