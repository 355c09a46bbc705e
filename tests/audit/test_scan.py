"""The secret scan itself must be able to fail: planted leaks are found,
armour and ordinary words are not."""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import scan  # noqa: E402

SECRET = "s3cr3t+value/with=specials-0123456789"
PEM = ("-----BEGIN PRIVATE KEY-----\n"
       "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\n"
       "OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n"
       "-----END PRIVATE KEY-----\n")
JWK = {"kty": "EC", "crv": "P-256", "x": "public-x-coordinate-value", "d": "private-scalar-d-value-0123456789"}


def run(tmp_path, records, *expect):
    with open(tmp_path / "prog-1.jsonl", "w") as f:
        for kind, value in records:
            f.write(json.dumps({"kind": kind, "value": value}) + "\n")
    return scan.main([str(tmp_path)] + [a for e in expect for a in ("--expect", e)])


def test_clean_messages_pass(tmp_path, capsys):
    assert run(tmp_path, [("secret", SECRET), ("key", PEM), ("key", json.dumps(JWK)),
                          ("message", "the client secret is empty"),
                          ("message", "expected -----BEGIN PRIVATE KEY----- armour"),
                          ("message", "public-x-coordinate-value is fine to show")], "prog") == 0
    assert "0 problems" in capsys.readouterr().out


def test_whole_secret_is_found(tmp_path):
    assert run(tmp_path, [("secret", SECRET), ("message", f"bad request: {SECRET}")]) == 1


def test_partial_secret_is_found(tmp_path, capsys):
    assert run(tmp_path, [("secret", SECRET), ("message", f"...{SECRET[5:21]}")]) == 1
    out = capsys.readouterr().out
    assert SECRET[5:21] not in out  # the report masks what it found


def test_form_encoded_secret_is_found(tmp_path):
    encoded = "s3cr3t%2Bvalue%2Fwith%3Dspecials"
    assert run(tmp_path, [("secret", SECRET), ("message", f"body: client_secret={encoded}")]) == 1


def test_short_secret_is_found_whole(tmp_path):
    assert run(tmp_path, [("secret", "hunter22"), ("message", "echo hunter22")]) == 1
    assert run(tmp_path, [("secret", "short"), ("message", "a short word")]) == 0


def test_pem_body_fragment_is_found(tmp_path):
    assert run(tmp_path, [("key", PEM), ("message", "near 'OF/2NxApJCzGCEDdfSp6'")]) == 1


def test_one_line_pem_body_is_found(tmp_path):
    one_line = PEM.replace("\n", "\\n")
    assert run(tmp_path, [("key", one_line), ("message", "x gdAFr88hb2OF/2NxApJCz x")]) == 1


def test_jwk_private_member_is_found(tmp_path):
    assert run(tmp_path, [("key", json.dumps(JWK)), ("message", "d=private-scalar-d-value")]) == 1


def test_expected_program_must_record(tmp_path, capsys):
    assert run(tmp_path, [("message", "m"), ("secret", SECRET)], "prog", "other") == 1
    assert "'other'" in capsys.readouterr().out
