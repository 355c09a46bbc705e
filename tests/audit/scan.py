"""The suite-wide secret scan.

`make test` runs every suite against the test-hooks build of the library
with TOKENCLIENT_AUDIT_DIR set; the library then records, one JSON line per
event, every error text a caller can see ("message": messages, OAuth codes,
descriptions, URIs) and every secret it handled ("secret": client secrets,
assertions, tokens, codes, refresh tokens; "key": private key text). See
src/audit.rs.

This script fails if any message contains any secret, or a 16-character
window of one (so a truncated or partial echo is caught too), raw or
form-encoded; and if a suite named with --expect recorded nothing, so the
scan cannot pass by having seen nothing.

    python3 tests/audit/scan.py DIR --expect python --expect tokenclient.test
"""

import argparse
import json
import re
import pathlib
import sys
import urllib.parse

WINDOW = 16  # a window this long of a secret is a leak
SHORTEST = 8  # shorter secrets are too short to tell from ordinary words
ARMOUR = re.compile(r"-----(BEGIN|END) [^-]*-----")
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


def key_material(text: str) -> list:
    """The secret parts of private key text: a JWK's private members, or the
    base64 body of PEM / bare DER without its armour lines."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            jwk = json.loads(stripped)
        except ValueError:
            jwk = None
        if isinstance(jwk, dict):
            return [v for k, v in jwk.items() if k in PRIVATE_JWK_MEMBERS and isinstance(v, str)]
    body = ARMOUR.sub("\n", stripped.replace("\\r", "\n").replace("\\n", "\n"))
    lines = [line for line in body.splitlines() if ":" not in line]  # not Proc-Type: headers
    joined = "".join("".join(lines).split())
    return [joined]


def variants(secret: str) -> set:
    """The forms a secret could leak in: raw and form-encoded."""
    return {v for v in (secret, urllib.parse.quote_plus(secret)) if len(v) >= SHORTEST}


def read(directory: pathlib.Path):
    """Yields (program, kind, value) for every record."""
    for path in sorted(directory.glob("*.jsonl")):
        program = path.stem.rsplit("-", 1)[0]
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by a process killed mid-write
            if record.get("kind") in ("message", "secret", "key"):
                yield program, record["kind"], record.get("value", "")


def scan(directory: pathlib.Path):
    """(program -> counts, distinct messages, problems). Two passes: the
    messages' WINDOW-long windows go in a set, then every secret's windows
    are looked up in it (secrets outnumber messages by far)."""
    programs, messages = {}, set()
    for program, kind, value in read(directory):
        programs.setdefault(program, {"message": 0, "secret": 0, "key": 0})[kind] += 1
        if kind == "message":
            messages.add(value)
    windows = {}
    for message in messages:
        for i in range(len(message) - WINDOW + 1):
            windows.setdefault(message[i:i + WINDOW], message)
    joined = "\0".join(messages)
    problems, reported = [], set()
    for program, kind, value in read(directory):
        if kind == "message":
            continue
        for part in key_material(value) if kind == "key" else [value]:
            for variant in variants(part):
                hit = None
                if len(variant) <= WINDOW:
                    if variant in joined:
                        hit = (variant, next(m for m in messages if variant in m))
                else:
                    for i in range(len(variant) - WINDOW + 1):
                        if variant[i:i + WINDOW] in windows:
                            hit = (variant[i:i + WINDOW], windows[variant[i:i + WINDOW]])
                            break
                if hit and hit[1] not in reported:
                    reported.add(hit[1])
                    shown = hit[1].replace(hit[0], "<" + "*" * len(hit[0]) + ">")
                    problems.append(f"a {kind} from {program} (starting {part[:4]!r}...) appears in "
                                    f"the message: {shown[:300]!r}")
    return programs, messages, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=pathlib.Path)
    parser.add_argument("--expect", action="append", default=[],
                        help="a program name part that must have recorded messages and secrets")
    args = parser.parse_args(argv)
    programs, messages, problems = scan(args.directory)
    for part in args.expect:
        if not any(sum(c.values()) for name, c in programs.items() if part in name):
            problems.append(f"nothing was recorded by a program named like {part!r}: did that suite run "
                            "against the test-hooks library with TOKENCLIENT_AUDIT_DIR set?")
    total = {k: sum(c[k] for c in programs.values()) for k in ("message", "secret", "key")}
    if not total["message"] or not total["secret"] + total["key"]:
        problems.append("no messages or no secrets were recorded at all")
    print(f"secret scan: {len(programs)} programs recorded {total['message']} messages "
          f"({len(messages)} distinct), {total['secret']} secrets and {total['key']} keys; "
          f"{len(problems)} problems")
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
