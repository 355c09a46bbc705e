"""One Client shared by threads; no growth over many cycles."""

import http.server
import json
import resource
import threading
from concurrent.futures import ThreadPoolExecutor

import jwt

from tokenclient import AuthMethod, Client


def test_8_threads_x_200_exchanges_share_one_client(server):
    m = server.client("es256-client")
    with Client(server.token_url("es256-client"), m["client_id"]) as c:
        c.set_private_key(m["private_key_pem"], key_id=m["kid"])

        def work(_):
            tokens = [c.client_credentials(scope="read") for _ in range(200)]
            assertions = [c.create_assertion() for _ in range(50)]
            return tokens, assertions

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(8)))
    tokens = [t for ts, _ in results for t in ts]
    assert len(tokens) == 1600 and all(t.scope == "read" for t in tokens)
    # The server refuses a replayed jti, so 1600 successes already prove
    # the exchanges' jtis distinct; the assertions' are checked directly.
    jtis = [jwt.decode(a, options={"verify_signature": False})["jti"] for _, as_ in results for a in as_]
    assert len(set(jtis)) == len(jtis) == 400


class _FixedToken(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = json.dumps({"access_token": "a" * 40, "token_type": "Bearer", "expires_in": 60}).encode()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_20000_cycles_keep_rss_bounded():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FixedToken)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/token"
    try:
        def cycles(n):
            for _ in range(n):
                with Client(url, "leak-test") as c:
                    c.set_client_secret("k" * 32, AuthMethod.CLIENT_SECRET_JWT)
                    c.create_assertion()
                    c.client_credentials()

        cycles(2000)  # warm up: allocator pools, caches
        before = _rss_kib()
        cycles(18000)
        grown = _rss_kib() - before
        # 18,000 clients, tokens and assertions; a leak of even 100 bytes
        # each would add 1.7 MiB.
        assert grown < 1536, f"RSS grew by {grown} KiB over 18,000 cycles"
    finally:
        httpd.shutdown()
