"""The shared token store from Python (Client.set_token_store): a file store
that two Client objects share, keys set with key=..., and the errors."""

import json
import stat
import urllib.request

import pytest

import tokenclient
from tokenclient import AuthMethod, Client, _ffi

NAME = "basic-client"  # client_secret_basic, tokens of an hour


def token_requests(server):
    with urllib.request.urlopen(f"{server.manifest['stats_url']}?client_id={server.client(NAME)['client_id']}") as r:
        return json.loads(r.read())["token_requests"]


def new_client(server):
    c = Client(server.token_url(NAME), server.client(NAME)["client_id"])
    c.set_client_secret(server.client(NAME)["client_secret"], AuthMethod.CLIENT_SECRET_BASIC)
    return c


@pytest.fixture
def store(tmp_path):
    """A file store in a directory that does not exist yet (the library
    makes it 0700), and that directory."""
    directory = tmp_path / "store"
    return f"file://{directory}", directory


def test_two_clients_of_one_file_store_make_one_request(server, store):
    url, directory = store
    before = token_requests(server)
    with new_client(server) as a, new_client(server) as b:
        a.set_token_store(url)
        b.set_token_store(url)
        first = a.get_token().access_token
        second = b.get_token().access_token
    assert first and first == second
    assert token_requests(server) - before == 1
    assert directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) == 0o700
    entries = list(directory.iterdir())
    assert entries and all(stat.S_IMODE(e.stat().st_mode) == 0o600 for e in entries if e.is_file())
    # The entries are sealed: the token is not in them in clear.
    assert all(first.encode() not in e.read_bytes() for e in entries if e.is_file())
    # A client without the store asks for its own.
    with new_client(server) as alone:
        assert alone.get_token().access_token != first
    assert token_requests(server) - before == 2


def test_a_set_key_is_shared_and_another_key_does_not_open_the_entry(server, store):
    url, _ = store
    key, other = bytes(range(32)), bytes(range(100, 132))
    before = token_requests(server)
    with new_client(server) as a, new_client(server) as b, new_client(server) as c:
        a.set_token_store(url, key=key)
        b.set_token_store(url, key=bytes(key))
        c.set_token_store(url, key=other)
        first = a.get_token().access_token
        assert b.get_token().access_token == first
        assert token_requests(server) - before == 1
        third = c.get_token().access_token
        assert third and third != first
        assert token_requests(server) - before == 2
    # Without a key: the one derived from the secret, which opens neither.
    with new_client(server) as derived:
        derived.set_token_store(url)
        assert derived.get_token().access_token not in (first, third)
    assert token_requests(server) - before == 3


@pytest.mark.parametrize("url", ["memcached://localhost:11211", "file://relative/dir", "not a url", ""])
def test_an_invalid_url_is_an_invalid_argument(server, url):
    with new_client(server) as c:
        with pytest.raises(tokenclient.InvalidArgumentError) as e:
            c.set_token_store(url)
        assert e.value.kind == _ffi.ERROR_INVALID_ARGUMENT


def test_key_errors(server, store):
    url, _ = store
    with new_client(server) as c:
        for bad in (b"short", b"x" * 15, b"x" * 1025):
            with pytest.raises(tokenclient.InvalidArgumentError) as e:
                c.set_token_store(url, key=bad)
            assert e.value.kind == _ffi.ERROR_INVALID_ARGUMENT
        with pytest.raises(TypeError):
            c.set_token_store(url, key="a str, not bytes, of 32 characters")  # type: ignore[arg-type]
        c.set_token_store(url, key=b"k" * 16)
        c.set_token_store(url, key=b"k" * 1024)


def test_a_directory_open_to_others_is_refused(server, tmp_path):
    directory = tmp_path / "open"
    directory.mkdir()
    directory.chmod(0o777)
    with new_client(server) as c:
        with pytest.raises(tokenclient.ConfigError) as e:
            c.set_token_store(f"file://{directory}")
        assert e.value.kind == _ffi.ERROR_CONFIG
