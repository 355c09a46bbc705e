"""A throwaway SoftHSM2 token for the PKCS#11 tests: a token directory in a
temporary folder, one token (label "tokenclient-test"), and keys generated
inside it (pkcs11-tool --keypairgen; sensitive, never extractable):
RSA-2048, P-256 and P-384. Prints a JSON manifest on stdout:

    {"conf": SOFTHSM2_CONF path (set it in the environment of every process that uses the token),
     "module": the module's path, "token": label, "pin": user PIN,
     "keys": {"rsa2048"|"p256"|"p384": {"uri": the pkcs11: URI with module-path and pin-value,
              "uri_no_pin": the same without the PIN, "alg": RS256|ES256|ES384,
              "jwk": the public key as a JWK, "extractable": CKA_EXTRACTABLE as the token says,
              "sensitive": CKA_SENSITIVE}}}

    python3 tests/softhsm.py DIR        (DIR is made and owned by the caller)

Needs the Debian packages softhsm2 and opensc (pkcs11-tool); cryptography
(tests/requirements.txt) turns the public keys into JWKs."""

import base64
import json
import pathlib
import re
import subprocess
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

MODULES = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
           "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"]
TOKEN = "tokenclient-test"
PIN = "1234-user"
SO_PIN = "5678-so"
KEYS = {"rsa2048": ("rsa:2048", "RS256", "01"), "p256": ("EC:prime256v1", "ES256", "02"),
        "p384": ("EC:secp384r1", "ES384", "03")}


def b64(n: int, length: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(length, "big")).rstrip(b"=").decode()


def jwk(der: bytes) -> dict:
    key = serialization.load_der_public_key(der)
    if isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        return {"kty": "RSA", "n": b64(nums.n, (nums.n.bit_length() + 7) // 8), "e": b64(nums.e, 3)}
    assert isinstance(key, ec.EllipticCurvePublicKey)
    size = (key.curve.key_size + 7) // 8
    nums = key.public_numbers()
    crv = {"secp256r1": "P-256", "secp384r1": "P-384"}[key.curve.name]
    return {"kty": "EC", "crv": crv, "x": b64(nums.x, size), "y": b64(nums.y, size)}


def field(listing: str, key_id: str, name: str) -> str:
    """`name`'s value in the object with ID `key_id` of a pkcs11-tool listing
    (which lists every object of the type, whatever --id says)."""
    for block in re.split(r"\n(?=\S)", listing):
        if re.search(rf"^\s*ID:\s*{key_id}\s*$", block, re.M):
            m = re.search(rf"^\s*{name}:\s*(.*)$", block, re.M)
            if m:
                return m.group(1).strip()
    raise SystemExit(f"no {name} for the object with ID {key_id} in:\n{listing}")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    work = pathlib.Path(sys.argv[1]).resolve()
    module = next((m for m in MODULES if pathlib.Path(m).exists()), None)
    if module is None:
        print("softhsm2 is not installed (apt-get install softhsm2 opensc)", file=sys.stderr)
        return 3
    (work / "tokens").mkdir(parents=True, exist_ok=True)
    conf = work / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {work / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> str:
        return subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout

    run("softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN)
    tool = ["pkcs11-tool", "--module", module, "--token-label", TOKEN]
    keys = {}
    for name, (spec, alg, key_id) in KEYS.items():
        run(*tool, "--login", "--pin", PIN, "--keypairgen", "--key-type", spec, "--label", name, "--id", key_id,
            "--usage-sign", "--sensitive")
        if spec.startswith("EC:"):
            # The EC point as the token lists it (a DER OCTET STRING around 04 || x || y): pkcs11-tool
            # cannot write P-384 public keys as SPKI.
            point = bytes.fromhex(field(run(*tool, "--list-objects", "--type", "pubkey"), key_id, "EC_POINT"))
            raw = point[3:] if point[1] == 0x81 else point[2:]
            curve = ec.SECP256R1() if spec.endswith("prime256v1") else ec.SECP384R1()
            public = ec.EllipticCurvePublicKey.from_encoded_point(curve, raw)
            der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        else:
            der_path = work / f"{name}.pub.der"
            run(*tool, "--read-object", "--type", "pubkey", "--id", key_id, "--output-file", str(der_path))
            der = der_path.read_bytes()
        flags = field(run(*tool, "--login", "--pin", PIN, "--list-objects", "--type", "privkey"), key_id, "Access")
        uri_no_pin = f"pkcs11:token={TOKEN};object={name};type=private?module-path={module}"
        keys[name] = {
            "uri": f"{uri_no_pin}&pin-value={PIN}",
            "uri_no_pin": uri_no_pin,
            "alg": alg,
            "jwk": jwk(der),
            "extractable": "never extractable" not in flags and "extractable" in flags,
            "never_extractable": "never extractable" in flags,
            "sensitive": "sensitive" in flags,
        }
    print(json.dumps({"conf": str(conf), "module": module, "token": TOKEN, "pin": PIN, "keys": keys}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
