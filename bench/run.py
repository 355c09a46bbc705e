"""`make bench`: builds the benchmarks, runs them against the local test
server, prints a table of medians (min-max), and writes bench/RESULTS.md."""

import datetime
import os
import pathlib
import platform
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from oidc_server import OIDCServer  # noqa: E402

LIBDIR = REPO / "target" / "release"
BUILD = REPO / "build" / "bench"


def build(name: str) -> pathlib.Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    exe = BUILD / name
    subprocess.run(["cc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{REPO / 'include'}",
                    str(REPO / "bench" / f"{name}.c"), f"-L{LIBDIR}", "-ltokenclient", f"-Wl,-rpath,{LIBDIR}",
                    "-pthread", "-o", str(exe)], check=True)
    return exe


def main() -> int:
    exe = build("get_token")
    with OIDCServer() as server:
        c = server.client("post-client")
        env = dict(os.environ, TOKEN_URL=server.token_url("post-client"), CLIENT_ID=c["client_id"],
                   CLIENT_SECRET=c["client_secret"])
        out = subprocess.run([str(exe)], env=env, check=True, capture_output=True, text=True).stdout
    rows = {name: (float(med), float(lo), float(hi)) for name, med, lo, hi in (l.split() for l in out.splitlines())}
    cached, base = rows["cached_get_token"], rows["baseline_mutex_malloc"]
    lines = [
        "| measurement | median ns/op | min-max |",
        "|---|---|---|",
        f"| cached `tokenclient_client_get_token` + `tokenclient_token_free` (C) | {cached[0]:.1f} | {cached[1]:.1f}-{cached[2]:.1f} |",
        f"| baseline: mutex lock/unlock + malloc/free (C) | {base[0]:.1f} | {base[1]:.1f}-{base[2]:.1f} |",
        f"| ratio cached / baseline | {cached[0] / base[0]:.2f} | |",
        "",
        f"Target: cached get_token under 1000 ns: **{'met' if cached[0] < 1000 else 'NOT met'}**.",
    ]
    table = "\n".join(lines)
    print(table)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"
    version = next(line.split('"')[1] for line in (REPO / "Cargo.toml").read_text().splitlines()
                   if line.startswith("version = "))
    header = (f"# Benchmark results\n\n{datetime.date.today()} on {machine}; tokenclient {version}. "
              "7 interleaved rounds of 200,000 calls each; medians with min-max. Produced by `make bench`.\n\n")
    (REPO / "bench" / "RESULTS.md").write_text(header + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
