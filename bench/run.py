"""`make bench`: builds the benchmark programs, generates keys, starts the
benchmark server (bench/server.c) on an ephemeral loopback port, checks that
every client sends the same request, then runs every measurement once per
round for ROUNDS interleaved rounds, and prints a table of medians (min-max)
with the target ratios, also written to bench/RESULTS.md.

Each measurement is one invocation of a bench program that prints lines
"name value": rates in operations per second, times in µs.

Environment: BENCH_ROUNDS (default 5), BENCH_SECONDS (default 1.0, the
length of one measurement), TOKENCLIENT_LIBRARY (default
target/release/libtokenclient.so), BENCH_ONLY (comma-separated words: only
the measurements whose label contains one of them, e.g. "store"; the
request check is skipped, the table printed and bench/RESULTS.md left as
it is).

The shared token store's measurements use a redis-server of their own
(started on a free loopback port, no persistence, stopped at the end) when
the binary is on PATH; without it only the file store is measured.
"""

import base64
import contextlib
import datetime
import json
import os
import pathlib
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO = pathlib.Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
LIBDIR = REPO / "target" / "release"
BUILD = REPO / "build" / "bench"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "1.0"))
# Optional: a directory holding an earlier build's libtokenclient.so.0 (e.g. from before an
# optimization). Its C ABI measurements then run in the same rounds, for a before/after table.
BEFORE = os.environ.get("BENCH_BEFORE_LIBDIR")
BEFORE_LABEL = os.environ.get("BENCH_BEFORE_LABEL", "an earlier build")
# Optional: only the measurements whose label contains one of these words.
ONLY = [w for w in os.environ.get("BENCH_ONLY", "").split(",") if w.strip()]
CLIENT_ID, KEY_ID = "bench-client", "bench-key"
CFLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror"]
ALGS = ["ES256", "ES384", "RS256", "PS256", "EdDSA", "HS256"]
KEYS = {"ES256": "es256.pem", "ES384": "es384.pem", "RS256": "rsa2048.pem", "PS256": "rsa2048.pem",
        "EdDSA": "ed25519.pem", "HS256": "hs256.secret"}
SPEED = {"ecdsap256": "ES256", "ecdsap384": "ES384", "rsa2048": "RS256", "ed25519": "EdDSA"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM_FIELDS = ["grant_type", "client_id", "client_assertion_type", "client_assertion"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_env() -> Dict[str, str]:
    """The environment of the bench programs: no proxies, the built library,
    the Python binding from the tree."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.setdefault("TOKENCLIENT_LIBRARY", str(LIBDIR / "libtokenclient.so"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "bindings" / "python"), env.get("PYTHONPATH")]))
    return env


ENV = bench_env()


def run(cmd: Sequence[object], cwd: Optional[pathlib.Path] = None, timeout: float = 120,
        env: Optional[Dict[str, str]] = None) -> str:
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or ENV, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


# -- building ------------------------------------------------------------------

def build() -> None:
    BUILD.mkdir(parents=True, exist_ok=True)
    tc = [f"-I{REPO / 'include'}", "-I/usr/include/p11-kit-1", f"-L{LIBDIR}", "-ltokenclient",
          f"-Wl,-rpath,{LIBDIR}", "-pthread", "-lcurl", "-lcrypto", "-ldl"]
    programs = {"server": ["-pthread"], "raw_sign": ["-lcrypto"], "raw_curl": ["-lcurl", "-lcrypto"], "tc_bench": tc,
                "idtoken_bench": tc}
    for name, libs in programs.items():
        run([os.environ.get("CC", "cc"), *CFLAGS, BENCH / f"{name}.c", *libs, "-o", BUILD / name])
    log("bench: go build (bench/go)")
    # cgo finds the library through pkg-config: the build tree's .pc (make build).
    run(["go", "build", "-o", BUILD / "gobench", "."], cwd=BENCH / "go", timeout=600,
        env=dict(ENV, PKG_CONFIG_PATH=str(REPO / "target" / "pkgconfig")))


def make_keys() -> None:
    """Fresh keys for this run, made with the openssl CLI."""
    specs = {"es256.pem": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
             "es384.pem": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
             "rsa2048.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
             "ed25519.pem": ["-algorithm", "ED25519"]}
    for name, args in specs.items():
        run(["openssl", "genpkey", *args, "-out", BUILD / name])
    # A client secret of 32 bytes (the HS256 minimum): 32 hex characters.
    (BUILD / "hs256.secret").write_text(secrets.token_hex(16))
    # A SoftHSM2 token with a P-256 key generated inside it (tests/softhsm.py).
    hsm = BUILD / "hsm"
    if hsm.exists():
        shutil.rmtree(hsm)
    hsm.mkdir()
    manifest = json.loads(run([sys.executable, REPO / "tests" / "softhsm.py", hsm]))
    (BUILD / "hsm.json").write_text(json.dumps(manifest))
    ENV["SOFTHSM2_CONF"] = manifest["conf"]


class Server:
    """bench/server.c on an ephemeral 127.0.0.1 port."""

    def __init__(self, dump: Optional[pathlib.Path] = None) -> None:
        cmd = [str(BUILD / "server")] + (["-d", str(dump)] if dump else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.strip().isdigit():
            self.proc.kill()
            raise SystemExit("bench: the server did not start")
        self.url = f"http://127.0.0.1:{int(line)}/token"

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class RedisServer:
    """A redis-server of the benchmark's own on a free 127.0.0.1 port, in
    `dir`, keeping nothing on disk."""

    def __init__(self, binary: str, dir: pathlib.Path) -> None:
        with socket.socket() as s:  # a free port (free again once closed)
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(dir)], cwd=dir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise SystemExit("bench: redis-server did not start")
            time.sleep(0.05)

    def url(self, prefix: str) -> str:
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix}"

    def __enter__(self) -> "RedisServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# -- the measurements ----------------------------------------------------------

def parse_lines(out: str) -> Dict[str, float]:
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            result[parts[0]] = float(parts[1])
    return result


def openssl_speed(alg: str) -> Callable[[], Dict[str, float]]:
    seconds = str(max(1, round(SECONDS)))

    def measure() -> Dict[str, float]:
        if alg == "hmac":
            out = run(["openssl", "speed", "-mr", "-elapsed", "-seconds", seconds, "-bytes", "300", "-hmac",
                       "sha256"])
            for line in out.splitlines():  # +F:<n>:hmac(sha256):<bytes per second>
                if line.startswith("+F:") and "hmac" in line:
                    return {"speed_hmac_sha256": float(line.split(":")[3]) / 300}
        else:
            out = run(["openssl", "speed", "-mr", "-elapsed", "-seconds", seconds, alg])
            for line in out.splitlines():  # +F2 (RSA), +F4 (ECDSA): ...:bits:sign/s:verify/s; +F6 (EdDSA) adds a name
                if re.match(r"\+F[246]:", line):
                    return {f"speed_{alg}": float(line.split(":")[-2])}
        raise SystemExit(f"bench: cannot parse openssl speed {alg}:\n{out}")

    return measure


def program(cmd: Sequence[object]) -> Callable[[], Dict[str, float]]:
    return lambda: parse_lines(run(cmd))


def program_before(cmd: Sequence[object]) -> Callable[[], Dict[str, float]]:
    """`cmd` (a tc_bench run) with the earlier library loaded instead (tc_bench's
    RUNPATH gives way to LD_LIBRARY_PATH); its results are named `<name>_before`."""
    env = dict(ENV, LD_LIBRARY_PATH=str(BEFORE))
    return lambda: {f"{k}_before": v for k, v in parse_lines(run(cmd, env=env)).items()}


# How many processes start at once on an empty store (`store_cold`).
COLD_N = (1, 4, 16, 64)


def processes(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


def store_cold(kind: str, stores: pathlib.Path, redis: Optional[RedisServer]) -> Callable[[], Dict[str, float]]:
    """For each N of COLD_N: N processes of `tc_bench store_cold`, each set up,
    then one get_token at the same wall-clock time, on an empty store of
    `kind` (a fresh directory or Redis prefix), against a bench server of
    their own that records the requests: how many token requests N
    processes make (one, when the store shares it)."""

    def measure() -> Dict[str, float]:
        result = {}
        for n in COLD_N:
            tag = uuid.uuid4().hex[:12]
            store = (f"file://{stores / f'cold-{n}-{tag}'}" if kind == "file" else
                     redis.url(f"bench-cold-{n}-{tag}:") if redis else "")
            dump = stores / f"cold-{kind}-{n}-{tag}.dump"
            with Server(dump) as server:
                # Time for all to start and set up first (2 busy cores start ~30 processes a second).
                start = time.time() + 0.3 + 0.025 * n
                procs = [subprocess.Popen([str(BUILD / "tc_bench"), "store_cold", server.url, store, f"{start:.6f}"],
                                          env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                         for _ in range(n)]
                outs = [p.communicate(timeout=120) for p in procs]
            for p, (out, err) in zip(procs, outs):
                if p.returncode != 0 or "ok 1" not in out:
                    raise SystemExit(f"bench: tc_bench store_cold ({kind}, {n}) failed ({p.returncode}):\n{out}{err}")
            lines = [parse_lines(out) for out, _ in outs]
            # The store gone around (store.fallback): each process wrote why to stderr.
            for reason in sorted({line for _, err in outs for line in err.splitlines() if "store.fallback" in line}):
                log(f"bench: store_cold {kind} {n}: {reason}")
            requests = len(re.findall(rb"(?m)^=== \d+\n", dump.read_bytes()))
            dump.unlink()
            said = sum(x["requested"] for x in lines)
            late = sum(1 for x in lines if x["ready_ms"] < 0)
            if said != requests:
                log(f"bench: store_cold {kind} {n}: the server saw {requests} requests, the processes {said:.0f}")
            if late:
                log(f"bench: store_cold {kind} {n}: {late} processes were set up after the start time")
            result[f"store_cold_{kind}_{n}_requests"] = requests
            result[f"store_cold_{kind}_{n}_slowest_ms"] = max(x["get_token_ms"] for x in lines)
            result[f"store_cold_{kind}_{n}_fallbacks"] = sum(x["fallbacks"] for x in lines)
        return result

    return measure


def measurements(url: str, stores: pathlib.Path, redis: Optional[RedisServer]) -> List[
        Tuple[str, Callable[[], Dict[str, float]]]]:
    s = str(SECONDS)
    key = {alg: BUILD / f for alg, f in KEYS.items()}
    es256 = key["ES256"]
    inp = BUILD / "signing_input.txt"
    m: List[Tuple[str, Callable[[], Dict[str, float]]]] = []
    for alg in SPEED:
        m.append((f"openssl speed {alg}", openssl_speed(alg)))
    m.append(("openssl speed hmac", openssl_speed("hmac")))

    def tc(name: str, cmd: List[object]) -> None:
        """A tc_bench measurement, and right after it (so both see the same
        machine) the same one with the earlier library, when there is one."""
        m.append((f"tc {name}", program([BUILD / "tc_bench", *cmd])))
        if BEFORE:
            m.append((f"before {name}", program_before([BUILD / "tc_bench", *cmd])))

    for alg in ALGS:
        m.append((f"raw_sign {alg}", program([BUILD / "raw_sign", alg, key[alg], inp, s, "dup"])))
        m.append((f"raw_sign init {alg}", program([BUILD / "raw_sign", alg, key[alg], inp, SECONDS / 2, "init"])))
        tc(f"assert {alg}", ["assert", url, alg, key[alg], s])
    for alg in ("ES256", "RS256"):
        tc(f"setkey {alg}", ["setkey", url, alg, key[alg], 11])
        m.append((f"raw setkey {alg}", program([BUILD / "raw_sign", alg, key[alg], inp, 11, "setkey"])))
    m.append(("raw_curl", program([BUILD / "raw_curl", url, s])))
    tc("paired", ["paired", url, es256, inp, s])
    m.append(("tc dpop", program([BUILD / "tc_bench", "dpop", url, es256, inp, s])))
    hsm = json.loads((BUILD / "hsm.json").read_text())
    m.append(("tc signer", program([BUILD / "tc_bench", "signer", url, es256, inp, hsm["keys"]["p256"]["uri"],
                                    hsm["module"], hsm["pin"], s])))
    for threads in (1, 2):
        tc(f"exchange {threads}t", ["exchange", url, es256, threads, s])
    m.append(("tc exchange 8t", program([BUILD / "tc_bench", "exchange", url, es256, 8, s])))
    py = [sys.executable, BENCH / "py_bench.py", "--url", url, "--key", es256, "--seconds", s]
    # Each binding beside its alternatives (and in Go, the raw limit) in one process, taking turns.
    for names in ("tc_assert,jwt_assert",
                  "tc_exchange,jwt_httpx_exchange,jwt_requests_exchange,authlib_httpx_exchange,authlib_requests_exchange",
                  "tc_cached,authlib_cached,tc_async_cached"):
        m.append((f"python {names}", program(py + ["-m", names])))
    go = [BUILD / "gobench", "-url", url, "-key", es256, "-input", inp, "-seconds", s]
    for names in ("tc_assert,jwt_assert,raw_assert", "tc_assert_locked", "tc_exchange,jwt_exchange,raw_exchange",
                  "tc_cached,oauth2_reuse_cached", "rt_request,bare_request"):
        m.append((f"go {names}", program(go + ["-m", names])))
    m.append(("tc cached get_token", program([BUILD / "tc_bench", "cached", url, SECONDS / 2])))
    m.append(("tc observed", program([BUILD / "tc_bench", "observed", url, es256, SECONDS / 2])))
    m.append(("tc store", lambda: parse_lines(run(
        [BUILD / "tc_bench", "store", url, stores / f"store-{uuid.uuid4().hex[:12]}",
         redis.url(f"bench-store-{uuid.uuid4().hex[:12]}:") if redis else "-", SECONDS / 2]))))
    m.append(("tc store_cold file", store_cold("file", stores, redis)))
    if redis:
        m.append(("tc store_cold redis", store_cold("redis", stores, redis)))
    m.append(("baseline", program([BUILD / "tc_bench", "baseline", SECONDS / 4])))
    m.append(("tc cancel", program([BUILD / "tc_bench", "cancel", 32])))
    for alg in ("ES256", "RS256"):
        m.append((f"idtoken {alg}", program([BUILD / "idtoken_bench", key[alg], alg, SECONDS / 2])))
    return m


# -- the same request from every client ---------------------------------------

def b64json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def check_requests() -> Dict[str, int]:
    """Runs each exchange client against a recording server and checks that
    they all send the same form fields and the same assertion content, with
    valid ES256 signatures. Returns each client's form body length."""
    import jwt  # PyJWT, from bench/requirements.txt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    public = load_pem_private_key((BUILD / "es256.pem").read_bytes(), password=None).public_key()
    dump = BUILD / "requests.dump"
    dump.unlink(missing_ok=True)
    lengths = {}
    with Server(dump) as server:
        url, es256 = server.url, BUILD / "es256.pem"
        py = [sys.executable, BENCH / "py_bench.py", "--url", url, "--key", es256, "--seconds", "0", "--warmup", "0"]
        go = [BUILD / "gobench", "-url", url, "-key", es256, "-seconds", "0", "-warmup", "0"]
        clients = {
            "raw libcurl": [BUILD / "raw_curl", url, "0"],
            "tokenclient C": [BUILD / "tc_bench", "exchange", url, es256, "1", "0"],
            "tokenclient Python": py + ["-m", "tc_exchange"],
            "PyJWT + httpx": py + ["-m", "jwt_httpx_exchange"],
            "PyJWT + requests": py + ["-m", "jwt_requests_exchange"],
            "Authlib httpx": py + ["-m", "authlib_httpx_exchange"],
            "Authlib requests": py + ["-m", "authlib_requests_exchange"],
            "tokenclient Go": go + ["-m", "tc_exchange"],
            "golang-jwt + net/http": go + ["-m", "jwt_exchange"],
        }
        offset = 0
        for client, cmd in clients.items():
            run(cmd)
            data = dump.read_bytes()
            fresh, offset = data[offset:], len(data)
            requests = [r for r in re.split(rb"=== \d+\n", fresh) if r.strip()]
            body = requests[-1].split(b"\r\n\r\n", 1)[1].rstrip(b"\n").decode()
            lengths[client] = len(body)
            if client == "raw libcurl":
                continue
            fields = urllib.parse.parse_qs(body, strict_parsing=True)
            problems = []
            if sorted(fields) != sorted(FORM_FIELDS) or any(len(v) != 1 for v in fields.values()):
                problems.append(f"form fields {sorted(fields)}")
            elif (fields["grant_type"][0], fields["client_id"][0], fields["client_assertion_type"][0]) != (
                    "client_credentials", CLIENT_ID, ASSERTION_TYPE):
                problems.append("form values")
            else:
                assertion = fields["client_assertion"][0]
                header, claims = (b64json(p) for p in assertion.split(".")[:2])
                if sorted(header) != ["alg", "kid", "typ"] or (header["alg"], header["typ"], header["kid"]) != (
                        "ES256", "JWT", KEY_ID):
                    problems.append(f"header {header}")
                # A random jti: a UUID v4, or (Authlib) a random string of 32+ characters.
                jti = str(claims.get("jti", ""))
                random_jti = len(jti) >= 32 if client.startswith("Authlib") else uuid.UUID(jti).version == 4
                if sorted(claims) != sorted(["iss", "sub", "aud", "jti", "iat", "exp"]) or (
                        claims["iss"], claims["sub"], claims["aud"]) != (CLIENT_ID, CLIENT_ID, url) or (
                        not random_jti or claims["exp"] - claims["iat"] != 305):
                    problems.append(f"claims {claims}")
                jwt.decode(assertion, public, algorithms=["ES256"], audience=url)  # raises if not valid
            if problems:
                raise SystemExit(f"bench: {client} sends a different request: {', '.join(problems)}")
    dump.unlink()
    return lengths


# -- the report ----------------------------------------------------------------

# tc_bench's `paired` measurements, which take turns in one process.
PAIRED = {
    "tc_exchange": "tokenclient exchange ES256 (C), 1 thread",
    "raw_exchange": "raw C ES256 signature (SHA-256, ECDSA_do_sign), then the raw libcurl POST (the composed "
                    "limit, measured)",
    "raw_post": "raw libcurl POST alone",
    "raw_sign": "raw C ES256 signature (SHA-256, ECDSA_do_sign) alone",
    "spin_post": "a spin as long as the raw signature, touching no memory, then the raw libcurl POST",
}

LABELS = {
    **{f"speed_{a}": (f"`openssl speed {a}` (sign)", "rate") for a in SPEED},
    "speed_hmac_sha256": ("`openssl speed -bytes 300 -hmac sha256`", "rate"),
    **{f"raw_sign_{a}": (f"raw C EVP_DigestSign {a}, context copied from one set up once", "rate") for a in ALGS},
    **{f"raw_sign_init_{a}": (f"raw C EVP_DigestSign {a}, context set up per signature", "rate") for a in ALGS},
    "raw_curl": ("raw libcurl POST, one easy handle, 550-byte form (C)", "rate"),
    **{f"{name}_paired": (f"{label}, in turns in one process", "rate") for name, label in PAIRED.items()},
    **{f"{name}_paired_cpu_us": (f"{label}: CPU time of the thread per operation", "us")
       for name, label in PAIRED.items()},
    "spin_paired_us": ("the spin of spin-then-POST, each", "us"),
    **{f"tc_assert_{a}": (f"tokenclient assertion {a} (C ABI)", "rate") for a in ALGS},
    **{f"setkey_{a}_us": (f"tokenclient set_private_key {a}, median of 11 fresh clients", "us")
       for a in ("ES256", "RS256")},
    **{f"first_assertion_{a}_us": (f"tokenclient first assertion after set_private_key {a}", "us")
       for a in ("ES256", "RS256")},
    **{f"setkey_{a}_cold_us": (f"tokenclient set_private_key {a}, first in the process", "us")
       for a in ("ES256", "RS256")},
    **{f"first_assertion_{a}_cold_us": (f"tokenclient first assertion {a}, first in the process", "us")
       for a in ("ES256", "RS256")},
    **{f"raw_setkey_{a}_us": (f"raw C PEM_read_bio_PrivateKey {a}, median of 11", "us") for a in ("ES256", "RS256")},
    **{f"raw_first_sign_{a}_us": (f"raw C first EVP_DigestSign {a} with a freshly loaded key, median of 11", "us")
       for a in ("ES256", "RS256")},
    **{f"raw_setkey_{a}_cold_us": (f"raw C PEM_read_bio_PrivateKey {a}, first in the process", "us")
       for a in ("ES256", "RS256")},
    **{f"raw_first_sign_{a}_cold_us": (f"raw C first EVP_DigestSign {a}, first in the process", "us")
       for a in ("ES256", "RS256")},
    "tc_exchange_1t": ("tokenclient exchange ES256 (C), 1 thread", "rate"),
    "tc_exchange_2t": ("tokenclient exchange ES256 (C), 2 threads, one client (total)", "rate"),
    "tc_exchange_8t": ("tokenclient exchange ES256 (C), 8 threads, one client (total)", "rate"),
    "dpop_proof_paired": ("tokenclient DPoP proof ES256 for a resource request (C ABI), in turns", "rate"),
    "dpop_raw_sign_paired": ("raw C ES256 signature (SHA-256, ECDSA_do_sign), in turns with the DPoP proof", "rate"),
    "dpop_exchange_paired": ("tokenclient DPoP exchange (ES256 assertion + ES256 proof, one POST), in turns", "rate"),
    "dpop_raw_exchange_paired": ("raw C: two ES256 signatures, then the raw libcurl POST, in turns", "rate"),
    "signer_builtin_paired": ("tokenclient assertion ES256, built-in signer (C ABI), in turns", "rate"),
    "signer_callback_paired": ("tokenclient assertion ES256, the same key behind a C callback signer, in turns", "rate"),
    "signer_pkcs11_paired": ("tokenclient assertion ES256, a P-256 key inside SoftHSM2 (pkcs11: URI), in turns",
                             "rate"),
    "signer_raw_pkcs11_paired": ("SoftHSM2's own rate: C_SignInit + C_Sign (CKM_ECDSA) on its C API, in turns",
                                 "rate"),
    "py_tc_assert": ("Python: tokenclient `Client.create_assertion()` ES256", "rate"),
    "py_jwt_assert": ("Python: PyJWT `jwt.encode` ES256, key object loaded once", "rate"),
    "py_tc_exchange": ("Python: tokenclient `Client.client_credentials()` ES256", "rate"),
    "py_jwt_httpx_exchange": ("Python: PyJWT + httpx.Client exchange", "rate"),
    "py_jwt_requests_exchange": ("Python: PyJWT + requests.Session exchange", "rate"),
    "go_tc_assert": ("Go: tokenclient `CreateAssertion()` ES256", "rate"),
    "go_tc_assert_locked": ("Go: tokenclient `CreateAssertion()` ES256, goroutine locked to its OS thread", "rate"),
    "go_jwt_assert": ("Go: golang-jwt `SignedString` ES256, key parsed once", "rate"),
    "go_raw_assert": ("Go: raw C ES256 signature (SHA-256, ECDSA_do_sign; bench/raw_exchange.h), one cgo call each",
                      "rate"),
    "go_tc_exchange": ("Go: tokenclient `ClientCredentials()` ES256", "rate"),
    "go_jwt_exchange": ("Go: golang-jwt + net/http exchange", "rate"),
    "go_raw_exchange": ("Go: raw C ES256 signature, then the raw libcurl POST, one cgo call each", "rate"),
    "cached_get_token": ("cached `tokenclient_client_get_token` + `tokenclient_token_free` (C)", "ns"),
    "baseline_mutex_malloc": ("baseline: mutex lock/unlock + malloc/free (C)", "ns"),
    "cached_plain_obs": ("cached get_token (C), no log callback, in turns with the next three", "ns"),
    "cached_warn_obs": ("cached get_token (C), log callback at warn (never called)", "ns"),
    "exchange_plain_obs": ("exchange ES256 (C), 1 thread, no log callback", "rate"),
    "exchange_debug_obs": ("exchange ES256 (C), 1 thread, log callback at debug (counts the events)", "rate"),
    "debug_events_per_exchange": ("debug events per exchange (request.sent, request.done)", "count"),
    "cached_store_on": ("cached get_token (C), client with the file store, in turns with the next", "ns"),
    "cached_store_off": ("cached get_token (C), client without a store", "ns"),
    "store_hit_file": ("fresh client (new, secret, set_token_store, get_token, free), the token in the file store, "
                       "in turns with the next three", "rate"),
    "store_hit_redis": ("fresh client, the token in the Redis store (a connection per client)", "rate"),
    "fresh_request": ("fresh client without a store: a token request (POST on a new connection)", "rate"),
    "fresh_client": ("fresh client made and freed, no get_token (the set-up the three above pay)", "rate"),
    **{f"{op}_cpu_us": (f"{label}: CPU time of the thread per operation", "us")
       for op, label in (("store_hit_file", "fresh client, file store hit"),
                         ("store_hit_redis", "fresh client, Redis store hit"),
                         ("fresh_request", "fresh client, token request"))},
    "store_hit_file_requests": ("token requests of a fresh file-store client afterwards (0: a hit)", "count"),
    "store_hit_redis_requests": ("token requests of a fresh Redis-store client afterwards (0: a hit)", "count"),
    **{name: value for kind, store in (("file", "file"), ("redis", "Redis")) for n in COLD_N
       for name, value in (
           (f"store_cold_{kind}_{n}_slowest_ms", (
               f"{processes(n)} on an empty {store} store at once: the slowest get_token (the others wait for the "
               "lease holder's entry)", "ms")),
           (f"store_cold_{kind}_{n}_fallbacks", (
               f"{processes(n)} on an empty {store} store at once: processes that went around the store "
               "(store.fallback; each asks the token endpoint itself)", "count")))},
}


def fmt(value: float, unit: str) -> str:
    if unit == "rate":
        return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    return f"{value:,.1f}"


def summary(values: List[float], unit: str) -> Tuple[str, str]:
    if unit == "ns":  # measured as rates
        values = [1e9 / v for v in values]
    return fmt(statistics.median(values), unit), f"{fmt(min(values), unit)}–{fmt(max(values), unit)}"


UNITS = {"rate": "ops/s", "us": "µs", "ms": "ms", "ns": "ns/op", "count": ""}


def composed(r: Dict[str, float]) -> float:
    """1/(1/raw POST + 1/raw ES256 signature), both measured in turns with the exchanges."""
    return 1 / (1 / r["raw_post_paired"] + 1 / r["raw_sign_paired"])


COMPOSED = "composed limit 1/(1/raw POST + 1/raw ES256 signature)"


# (label, per-round value, target as (comparison, bound) or None for information)
RATIOS: List[Tuple[str, Callable[[Dict[str, float]], float], Optional[Tuple[str, float]]]] = [
    ("assertion ES256 (C ABI) / raw C ES256", lambda r: r["tc_assert_ES256"] / r["raw_sign_ES256"], (">=", 0.80)),
    ("assertion RS256 (C ABI) / raw C RS256", lambda r: r["tc_assert_RS256"] / r["raw_sign_RS256"], (">=", 0.90)),
    ("assertion EdDSA (C ABI) / raw C Ed25519", lambda r: r["tc_assert_EdDSA"] / r["raw_sign_EdDSA"], (">=", 0.75)),
    ("assertion HS256 (C ABI) / raw C HMAC-SHA256", lambda r: r["tc_assert_HS256"] / r["raw_sign_HS256"], (">=", 0.25)),
    ("assertion ES384 (C ABI) / raw C ES384", lambda r: r["tc_assert_ES384"] / r["raw_sign_ES384"], None),
    ("assertion PS256 (C ABI) / raw C PS256", lambda r: r["tc_assert_PS256"] / r["raw_sign_PS256"], None),
    ("assertion ES256 (C ABI) / `openssl speed ecdsap256`", lambda r: r["tc_assert_ES256"] / r["speed_ecdsap256"], None),
    ("assertion ES384 (C ABI) / `openssl speed ecdsap384`", lambda r: r["tc_assert_ES384"] / r["speed_ecdsap384"], None),
    ("assertion RS256 (C ABI) / `openssl speed rsa2048`", lambda r: r["tc_assert_RS256"] / r["speed_rsa2048"], None),
    ("assertion EdDSA (C ABI) / `openssl speed ed25519`", lambda r: r["tc_assert_EdDSA"] / r["speed_ed25519"], None),
    ("assertion HS256 (C ABI) / `openssl speed -hmac sha256` (300 B)",
     lambda r: r["tc_assert_HS256"] / r["speed_hmac_sha256"], None),
    ("Python binding assertion / PyJWT (ES256)", lambda r: r["py_tc_assert"] / r["py_jwt_assert"], (">=", 1.5)),
    ("Go binding assertion / golang-jwt (ES256)", lambda r: r["go_tc_assert"] / r["go_jwt_assert"], (">=", 2.0)),
    ("raw C ES256 signature / golang-jwt (ES256), both in the Go process: the most an OpenSSL-based Go binding can reach",
     lambda r: r["go_raw_assert"] / r["go_jwt_assert"], None),
    ("Go binding assertion / raw C ES256 signature in the Go process: what the binding adds",
     lambda r: r["go_tc_assert"] / r["go_raw_assert"], None),
    ("Go binding assertion, goroutine locked to its OS thread / golang-jwt (ES256), separate processes",
     lambda r: r["go_tc_assert_locked"] / r["go_jwt_assert"], None),
    (f"exchange C, 1 connection / {COMPOSED}, in turns", lambda r: r["tc_exchange_paired"] / composed(r), (">=", 0.85)),
    (f"raw sign-then-POST (measured) / {COMPOSED}, in turns",
     lambda r: r["raw_exchange_paired"] / composed(r), None),
    ("exchange C, 1 connection / raw sign-then-POST, in turns (1: its JSON, form and token work cost nothing measurable)",
     lambda r: r["tc_exchange_paired"] / r["raw_exchange_paired"], None),
    ("CPU per raw sign-then-POST minus CPU per raw signature and per raw POST (µs): what doing both costs beyond "
     "their sum", lambda r: r["raw_exchange_paired_cpu_us"] - r["raw_post_paired_cpu_us"] - r["raw_sign_paired_cpu_us"],
     None),
    ("CPU per spin-then-POST minus the spin and CPU per raw POST (µs): the same for work as long as the signature "
     "that touches no memory",
     lambda r: r["spin_post_paired_cpu_us"] - r["raw_post_paired_cpu_us"] - r["spin_paired_us"], None),
    (f"spin-then-POST / {COMPOSED}, in turns", lambda r: r["spin_post_paired"] / composed(r), None),
    ("CPU per exchange C minus CPU per raw sign-then-POST (µs): tokenclient's JSON, form and token work",
     lambda r: r["tc_exchange_paired_cpu_us"] - r["raw_exchange_paired_cpu_us"], None),
    ("DPoP proof ES256 (C ABI) / raw C ES256 signature, in turns",
     lambda r: r["dpop_proof_paired"] / r["dpop_raw_sign_paired"], (">=", 0.9)),
    ("DPoP exchange (C ABI) / raw sign-sign-POST, in turns",
     lambda r: r["dpop_exchange_paired"] / r["dpop_raw_exchange_paired"], (">=", 0.85)),
    ("assertion through a C callback signer / built-in signer, same ES256 key, in turns",
     lambda r: r["signer_callback_paired"] / r["signer_builtin_paired"], (">=", 0.95)),
    ("assertion through PKCS#11 (SoftHSM2) / SoftHSM2's C_Sign alone, in turns",
     lambda r: r["signer_pkcs11_paired"] / r["signer_raw_pkcs11_paired"], (">=", 0.9)),
    ("Python binding exchange / PyJWT + httpx", lambda r: r["py_tc_exchange"] / r["py_jwt_httpx_exchange"], (">=", 3.0)),
    ("Python binding exchange / PyJWT + requests", lambda r: r["py_tc_exchange"] / r["py_jwt_requests_exchange"], None),
    ("Python binding exchange / Authlib 1.9 httpx client, PrivateKeyJWT",
     lambda r: r["py_tc_exchange"] / r["py_authlib_httpx_exchange"], (">=", 3.0)),
    ("Python binding exchange / Authlib 1.9 requests client, PrivateKeyJWT",
     lambda r: r["py_tc_exchange"] / r["py_authlib_requests_exchange"], (">=", 3.0)),
    ("Python cached get_token / Authlib 1.9 ensure_active_token + token[\"access_token\"]",
     lambda r: r["py_tc_cached"] / r["py_authlib_cached"], (">=", 1.0)),
    ("Python async cached get_token / sync cached get_token",
     lambda r: r["py_tc_async_cached"] / r["py_tc_cached"], (">=", 0.5)),
    ("Go cached GetToken / x/oauth2 ReuseTokenSource.Token()",
     lambda r: r["go_tc_cached"] / r["go_oauth2_reuse_cached"], (">=", 1.0)),
    ("Go RoundTripper overhead per request vs a bare http.Client with a fixed header (µs)",
     lambda r: 1e6 / r["go_rt_request"] - 1e6 / r["go_bare_request"], ("<", 2.0)),
    ("Go binding exchange / golang-jwt + net/http", lambda r: r["go_tc_exchange"] / r["go_jwt_exchange"], (">=", 1.5)),
    ("raw sign-then-POST / golang-jwt + net/http, both in the Go process: the most an OpenSSL- and libcurl-based Go "
     "binding can reach", lambda r: r["go_raw_exchange"] / r["go_jwt_exchange"], None),
    ("Go binding exchange / raw sign-then-POST in the Go process: what the binding adds",
     lambda r: r["go_tc_exchange"] / r["go_raw_exchange"], None),
    ("exchange C, 2 threads / 1 thread (one client)", lambda r: r["tc_exchange_2t"] / r["tc_exchange_1t"], (">=", 1.7)),
    ("exchange C, 8 threads / 1 thread (one client)", lambda r: r["tc_exchange_8t"] / r["tc_exchange_1t"], None),
    ("set_private_key ES256 (µs)", lambda r: r["setkey_ES256_us"], ("<", 1000)),
    ("first assertion after set_private_key ES256 (µs)", lambda r: r["first_assertion_ES256_us"], ("<", 1000)),
    ("set_private_key RS256 (µs)", lambda r: r["setkey_RS256_us"], ("<", 1000)),
    ("first assertion after set_private_key RS256 (µs)", lambda r: r["first_assertion_RS256_us"], ("<", 1000)),
    ("set_private_key ES256, first in the process (µs)", lambda r: r["setkey_ES256_cold_us"], ("<", 1000)),
    ("set_private_key RS256, first in the process (µs)", lambda r: r["setkey_RS256_cold_us"], ("<", 1000)),
    *[row for a in ("ES256", "RS256") for row in (
        (f"set_private_key + first assertion {a}, first in the process (µs)",
         lambda r, a=a: r[f"setkey_{a}_cold_us"] + r[f"first_assertion_{a}_cold_us"], None),
        (f"raw C PEM_read_bio_PrivateKey + first signature {a}, first in the process (µs): "
         "OpenSSL's one-time start-up, which any program pays once",
         lambda r, a=a: r[f"raw_setkey_{a}_cold_us"] + r[f"raw_first_sign_{a}_cold_us"], None),
    )],
    ("first assertion after set_private_key RS256 / raw C first signature with a fresh key",
     lambda r: r["first_assertion_RS256_us"] / r["raw_first_sign_RS256_us"], None),
    ("cached get_token (ns/op)", lambda r: 1e9 / r["cached_get_token"], ("<", 1000)),
    ("cached get_token / baseline", lambda r: r["baseline_mutex_malloc"] / r["cached_get_token"], None),
    ("cached get_token with a log callback at warn / without (counters on in both)",
     lambda r: r["cached_warn_obs"] / r["cached_plain_obs"], (">=", 0.95)),
    ("exchange with debug events (2 per exchange) / without",
     lambda r: r["exchange_debug_obs"] / r["exchange_plain_obs"], None),
    ("ID token validation ES256 (C ABI, JWKS cached) / raw OpenSSL SHA-256 + ECDSA_do_verify",
     lambda r: r["idtoken_ES256"] / r["raw_verify_ES256"], (">=", 0.85)),
    ("ID token validation RS256 (C ABI, JWKS cached) / raw OpenSSL SHA-256 + RSA PKCS#1 verify",
     lambda r: r["idtoken_RS256"] / r["raw_verify_RS256"], (">=", 0.85)),
    ("issuer metadata served from the client's cache (ns/op)", lambda r: r["metadata_cached_ns"], ("<", 1000)),
    ("cached get_token with the shared store / without, in turns (the in-process cache serves both)",
     lambda r: r["cached_store_on"] / r["cached_store_off"], (">=", 0.9)),
    *[row for kind, name in (("file", "file"), ("redis", "Redis")) for row in (
        (f"store hit from a fresh client / token request from a fresh client, {name} store, in turns: how much "
         "faster a new process has its first token",
         lambda r, kind=kind: r[f"store_hit_{kind}"] / r["fresh_request"], None),
        (f"store hit from a fresh client minus the fresh client's set-up, {name} store (µs)",
         lambda r, kind=kind: 1e6 / r[f"store_hit_{kind}"] - 1e6 / r["fresh_client"], None),
    )],
    ("token request from a fresh client minus the fresh client's set-up (µs)",
     lambda r: 1e6 / r["fresh_request"] - 1e6 / r["fresh_client"], None),
    *[(f"token requests for {processes(n)} starting at once with the {name} store, empty at first (requests)",
       lambda r, kind=kind, n=n: r[f"store_cold_{kind}_{n}_requests"], ("==", 1))
      for kind, name in (("file", "file"), ("redis", "Redis")) for n in COLD_N],
    ("cancel to CANCELLED, an exchange waiting on a silent server (ms, median of 32)",
     lambda r: r["cancel_exchange_ms"], ("<", 50)),
    ("cancel to CANCELLED, an exchange waiting on a silent server (ms, slowest of 32)",
     lambda r: r["cancel_exchange_ms_max"], ("<", 50)),
    ("cancel to CANCELLED, get_token_ex waiting for the shared request (ms, median of 32)",
     lambda r: r["cancel_get_token_ms"], ("<", 50)),
    ("cancel to CANCELLED, get_token_ex waiting for the shared request (ms, slowest of 32)",
     lambda r: r["cancel_get_token_ms_max"], ("<", 50)),
]


# A target's limit, measured in the same rounds: (label of the limit's ratio
# row above, why it bounds the target). A missed target whose limit is also
# below the bound is out of reach; otherwise the miss is ours.
LIMITS: Dict[str, Tuple[str, str]] = {
    "Go binding assertion / golang-jwt (ES256)": (
        "raw C ES256 signature / golang-jwt (ES256), both in the Go process: the most an OpenSSL-based Go binding "
        "can reach",
        "the binding signs with OpenSSL, one cgo call per assertion, so it cannot sign faster than this loop"),
    f"exchange C, 1 connection / {COMPOSED}, in turns": (
        f"raw sign-then-POST (measured) / {COMPOSED}, in turns",
        "a C loop of nothing but the raw signature and the raw POST, one after the other"),
    "Go binding exchange / golang-jwt + net/http": (
        "raw sign-then-POST / golang-jwt + net/http, both in the Go process: the most an OpenSSL- and libcurl-based "
        "Go binding can reach",
        "the binding signs with OpenSSL and POSTs with libcurl in one cgo call per exchange"),
}

assert all(target in {r[0] for r in RATIOS} and limit in {r[0] for r in RATIOS}
           for target, (limit, _) in LIMITS.items()), "LIMITS names a row that RATIOS lacks"


SECTIONS = {
    "speed_ecdsap256": "Limits: `openssl speed`",
    "raw_sign_ES256": "Limits: raw C (bench/raw_sign.c, bench/raw_curl.c)",
    "tc_assert_ES256": "tokenclient through the C ABI",
    "tc_exchange_paired": "Exchange through the C ABI beside its raw parts, taking turns in one process",
    "dpop_proof_paired": "DPoP (bench/tc_bench.c `dpop`, taking turns in one process)",
    "signer_builtin_paired": "Signers (bench/tc_bench.c `signer`, taking turns in one process)",
    "py_tc_assert": "Python (single thread; each binding beside its alternatives, taking turns in one process)",
    "go_tc_assert": "Go (single goroutine; as in Python, and with the raw C limits called through cgo)",
    "cached_get_token": "Cached token (the earlier benchmark)",
    "cached_store_on": "Shared token store (bench/tc_bench.c `store`, in turns in one process)",
    "cancel_exchange_ms": "Cancellation (bench/tc_bench.c `cancel`)",
    "idtoken_ES256": "OpenID Connect (bench/idtoken_bench.c)",
}


def tables(samples: Dict[str, List[float]]) -> Tuple[str, List[str]]:
    """One table: the measurements, then the ratios and targets."""
    lines = ["| measurement | median | min–max | unit | target |", "|---|---:|---:|---|---|"]
    for name, (label, unit) in LABELS.items():
        if name in SECTIONS:
            lines.append(f"| **{SECTIONS[name]}** | | | | |")
        if name in samples:
            med, rng = summary(samples[name], unit)
            lines.append(f"| {label} | {med} | {rng} | {UNITS[unit]} | |")
    # A section none of whose measurements ran (BENCH_ONLY) has no header.
    lines = [line for i, line in enumerate(lines)
             if not (line.startswith("| **") and (i + 1 == len(lines) or lines[i + 1].startswith("| **")))]
    lines.append("| **Ratios (per round, then the median) and targets** | | | | |")
    rounds = [{k: v[i] for k, v in samples.items()} for i in range(ROUNDS)]
    missed = []
    per_round = {}
    for label, value, _ in RATIOS:
        try:
            per_round[label] = [value(r) for r in rounds]
        except KeyError as e:  # not measured: BENCH_ONLY, or no redis-server
            if not ONLY and "Redis" not in label:
                log(f"bench: no {e} for the row \"{label}\"")
    medians = {label: statistics.median(values) for label, values in per_round.items()}
    for label, _, target in RATIOS:
        if label not in per_round:
            continue
        values = per_round[label]
        med = medians[label]
        unit = ("µs" if "(µs)" in label else "ns/op" if "(ns/op)" in label else
                "requests" if "(requests)" in label else "×")
        digits = 2 if unit == "×" else 0 if unit == "requests" and all(v == int(v) for v in values) else 1
        rng = f"{min(values):,.{digits}f}–{max(values):,.{digits}f}"
        goal = ""
        if target is not None:
            op, bound = target
            met = med >= bound if op == ">=" else med == bound if op == "==" else med < bound
            if not met:
                missed.append(label)
            sign = {">=": "≥", "==": "=", "<": "<"}[op]
            goal = f"{sign} {bound:g}: {'met' if met else '**NOT met**'}"
            if not met and label in LIMITS:
                limit_label, why = LIMITS[label]
                limit = medians.get(limit_label, float("nan"))
                verdict = ("so the target is out of reach on this machine" if limit < bound else
                           "which is not below the target: this miss is tokenclient's")
                missed[-1] = (f"{label} ({med:.2f}); its limit, measured in the same rounds, is "
                              f"\"{limit_label}\" = {limit:.2f} ({why}), {verdict}")
        lines.append(f"| {label} | {med:,.{digits}f} | {rng} | {unit} | {goal} |")
    if any(name.endswith("_before") for name in samples):
        lines += ["", f"Before/after: the same C ABI measurements with {BEFORE_LABEL} loaded, in the same rounds.", "",
                  "The speed-up is before time / after time (for rates, after / before) per round, then the median: "
                  "above 1 is faster. The two libraries run in separate processes, one right after the other, so "
                  "exchange rates carry the 10–20% noise of separate processes.", "",
                  "| measurement | before | after | speed-up |", "|---|---:|---:|---:|"]
        for name, (label, unit) in LABELS.items():
            # tokenclient's own measurements; the raw ones in the same runs do not change.
            if not label.startswith("tokenclient") or f"{name}_before" not in samples or name not in samples:
                continue
            ratios = [a / b if unit == "rate" else b / a
                      for a, b in zip(samples[name], samples[f"{name}_before"])]
            lines.append(f"| {label} | {summary(samples[f'{name}_before'], unit)[0]} {UNITS[unit]} | "
                         f"{summary(samples[name], unit)[0]} {UNITS[unit]} | {statistics.median(ratios):.2f}× |")
    return "\n".join(lines), missed


def cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def other_load(seconds: float = 1.0) -> float:
    """The share of the machine's CPU time used while this benchmark is idle
    (by other work on the machine), from /proc/stat over `seconds`."""
    def sample() -> Tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return float("nan")
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def versions() -> Dict[str, str]:
    v = {"openssl": run(["openssl", "version"]).strip(),
         "libcurl": run([BUILD / "raw_curl", "--version"]).strip(),
         "python": platform.python_version(),
         "go": run(["go", "env", "GOVERSION"]).strip(),
         "golang-jwt": run(["go", "list", "-m", "-f", "{{.Version}}", "github.com/golang-jwt/jwt/v5"],
                           cwd=BENCH / "go").strip(),
         "tokenclient": run([BUILD / "tc_bench", "version"]).strip()}
    for line in run([sys.executable, BENCH / "py_bench.py", "--versions"]).splitlines():
        name, version = line.split()
        v[name] = version
    return v


def main() -> int:
    started = time.monotonic()
    log("bench: building")
    build()
    make_keys()
    if ONLY:
        log(f"bench: BENCH_ONLY={','.join(ONLY)}: no request check, bench/RESULTS.md left as it is")
        body_lengths = {}
    else:
        log("bench: checking that every client sends the same request")
        body_lengths = check_requests()
    vers = versions()
    busy_before = other_load()
    samples: Dict[str, List[float]] = {}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(Server())
        # The shared token stores' directories (and Redis's), removed at the end.
        stores = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stores-", dir=BUILD)))
        redis_bin = shutil.which("redis-server")
        redis = stack.enter_context(RedisServer(redis_bin, stores)) if redis_bin else None
        if not redis:
            log("bench: no redis-server on PATH: the shared token store is measured with the file store only")
        (BUILD / "signing_input.txt").write_text(run([BUILD / "tc_bench", "input", server.url, BUILD / "es256.pem"]))
        input_len = len((BUILD / "signing_input.txt").read_text().strip())
        plan = measurements(server.url, stores, redis)
        if ONLY:
            plan = [(label, measure) for label, measure in plan if any(w.strip() in label for w in ONLY)]
            if not plan:
                raise SystemExit(f"bench: BENCH_ONLY={','.join(ONLY)} matches no measurement")
        for rnd in range(ROUNDS):
            t0 = time.monotonic()
            for label, measure in plan:
                for name, value in measure().items():
                    samples.setdefault(name, []).append(value)
            log(f"bench: round {rnd + 1}/{ROUNDS} done in {time.monotonic() - t0:.0f} s")
    busy_after = other_load()
    table, missed = tables(samples)
    print(table)
    elapsed = time.monotonic() - started
    if ONLY:
        log(f"bench: targets missed: {'; '.join(missed) if missed else 'none'} ({elapsed:.0f} s)")
        return 0

    busy_note = ""
    if max(busy_before, busy_after) > 0.2:
        busy_note = (f" Other work used up to {max(busy_before, busy_after):.0%} of the CPU around the rounds: the "
                     "thread-scaling ratios (and the exchange ratios, where client and server share the cores) "
                     "understate what a quiet machine gives.")
    now = datetime.datetime.now().astimezone()
    machine = f"{cpu_model()}, {os.cpu_count()} cores, {platform.platform()}"
    vers_line = ", ".join(f"{k} {v}" for k, v in vers.items())
    bodies = ", ".join(f"{k} {n}" for k, n in body_lengths.items())
    text = f"""# Benchmark results

Produced by `make bench` (bench/run.py) on {now:%Y-%m-%d %H:%M %Z}.

- Machine: {machine}.
  Other work used {busy_before:.0%} of its CPU time just before the rounds and {busy_after:.0%} just
  after (measured while this benchmark was idle, 1 s each): such work makes the rates noisy (the
  ratios are taken within each round), and on 2 cores it takes what a second thread would use.
- Versions: {vers_line}.
- Method: {ROUNDS} interleaved rounds (round 1 runs every measurement once, then round 2, ...), each
  measurement {SECONDS:g} s after a short warm-up, one thread unless said; medians over the rounds
  with min–max. Ratios are computed per round, then their median is taken. The measurements behind
  the exchange targets and the bindings' targets run in one process, taking turns of 50 ms in an
  order shuffled every cycle until each has run {SECONDS:g} s (tc_bench `paired`; py_bench.py and
  gobench with several `-m` names):
  the rates they compare then see the same conditions, which on this VM move exchange rates by
  10–20% from one process to the next. Other measurements run in their own process.
- Server: bench/server.c, an HTTP/1.1 keep-alive server on 127.0.0.1 (thread per connection) that
  answers every POST with a fixed token JSON; every exchange uses one keep-alive connection per
  thread. Before the rounds every client's request was recorded and checked: the same form fields
  (grant_type, client_id, client_assertion_type, client_assertion), the same JOSE header (alg, typ,
  kid) and claims (iss, sub, aud, jti = uuid4, iat, exp), valid ES256 signatures. Form body
  lengths in bytes: {bodies}.
- Keys: generated for the run with `openssl genpkey` (P-256, P-384, RSA-2048 for RS256 and PS256,
  Ed25519) and a 32-byte client secret for HS256.
- Denominators of the assertion targets: the raw C EVP numbers (bench/raw_sign.c): the same
  {input_len}-byte signing input (an ES256 assertion's header.payload) signed with EVP_DigestSign
  and a key loaded once, each signature on a copy of a context set up once (the other raw variant
  shown sets up a context per signature, as a simpler program would). `openssl speed` (run with
  -elapsed: wall-clock rates like every other number here) is not comparable: it signs a
  precomputed digest (no hashing of the input) with contexts it reuses, and its HMAC reuses one
  MAC context over 300-byte blocks; its ratios are shown for information.
- The composed limit of an exchange is 1/(1/raw POST + 1/raw ES256 signature): the raw signature
  (a one-shot SHA-256, then ECDSA_do_sign: the fastest OpenSSL path, and the one tokenclient takes)
  plus a raw libcurl POST of a 550-byte form (a little longer than the real ones) on one reused
  easy handle, with nothing else (bench/raw_exchange.h), each measured alone in turns with
  tokenclient's exchanges. The same two steps one after the other (raw sign-then-POST) are measured
  too: that loop is the most any client that signs with OpenSSL and POSTs with libcurl can do.

{table}

Targets missed: {"; ".join(missed) if missed else "none"}.{busy_note}

bench/run.py took {elapsed:.0f} s (C and Go builds included; `cargo build` and `pip install` not).
"""
    (BENCH / "RESULTS.md").write_text(text)
    log(f"bench: wrote bench/RESULTS.md ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
