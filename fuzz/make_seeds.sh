#!/usr/bin/env bash
# Regenerates the committed seed corpora in fuzz/seeds/<target>/. Not run by
# run.sh (the seeds are committed); run it by hand to refresh them. Keys are
# made with the openssl CLI and are throwaway keys for fuzzing only; JWKs are
# written from `openssl pkey -text` with the Python standard library.
#
#   fuzz/make_seeds.sh
set -euo pipefail
cd "$(dirname "$0")"
out=seeds
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Inputs that once failed (regress-*) stay; everything else is made anew.
mkdir -p "$out"/{key_parse,token_response,oauth_error,endpoint_url}
find "$out" -type f ! -name 'regress-*' -delete
k="$out/key_parse"

# --- keys -----------------------------------------------------------------
gen() { openssl genpkey "$@" -out "$tmp/key.pem" 2>/dev/null; cat "$tmp/key.pem"; }
b64der() { openssl "$@" -outform DER 2>/dev/null | base64 -w0; }

gen -algorithm RSA -pkeyopt rsa_keygen_bits:2048 >"$tmp/rsa.pem"
gen -algorithm EC -pkeyopt ec_paramgen_curve:P-256 >"$tmp/p256.pem"
gen -algorithm EC -pkeyopt ec_paramgen_curve:P-384 >"$tmp/p384.pem"
gen -algorithm EC -pkeyopt ec_paramgen_curve:P-521 >"$tmp/p521.pem"
gen -algorithm ED25519 >"$tmp/ed25519.pem"

for name in rsa p256 p384 p521 ed25519; do
  cp "$tmp/$name.pem" "$k/$name.pkcs8.pem"
  b64der pkey -in "$tmp/$name.pem" >"$k/$name.pkcs8.b64"
done
openssl pkey -in "$tmp/rsa.pem" -traditional >"$k/rsa.pkcs1.pem"
b64der rsa -in "$tmp/rsa.pem" -traditional >"$k/rsa.pkcs1.b64"
for name in p256 p384 p521; do
  openssl ec -in "$tmp/$name.pem" 2>/dev/null >"$k/$name.sec1.pem"
done
b64der ec -in "$tmp/p256.pem" >"$k/p256.sec1.b64"

# The ways PEM arrives through environment variables and JSON.
pem="$k/p256.pkcs8.pem"
tr '\n' ' ' <"$pem" >"$k/p256.one-line-spaces.pem"
tr -d '\n' <"$pem" >"$k/p256.one-line.pem"
sed 's/$/\r/' <"$pem" >"$k/p256.crlf.pem"
awk '{printf "%s\\n", $0}' <"$pem" >"$k/p256.escaped.pem"
printf '"%s"' "$(cat "$k/p256.escaped.pem")" >"$k/p256.escaped-quoted.pem"
base64 -d "$k/p256.pkcs8.b64" | base64 -w 64 >"$k/p256.pkcs8-wrapped.b64"
base64 -d "$k/p256.pkcs8.b64" | base64 -w0 | tr '+/' '-_' | tr -d '=' >"$k/p256.pkcs8-url.b64"
sed 's/$/\r/' <"$k/rsa.pkcs1.pem" >"$k/rsa.pkcs1.crlf.pem"

# Refused, each with its own message.
openssl pkey -in "$tmp/rsa.pem" -pubout >"$k/rsa.public.pem"
openssl pkey -in "$tmp/p256.pem" -pubout >"$k/p256.public.pem"
b64der pkey -in "$tmp/p256.pem" -pubout >"$k/p256.public.b64"
openssl rsa -in "$tmp/rsa.pem" -RSAPublicKey_out 2>/dev/null >"$k/rsa.pkcs1-public.pem"
openssl pkcs8 -topk8 -in "$tmp/p256.pem" -v2 aes-256-cbc -passout pass:pw >"$k/p256.encrypted.pem"
openssl pkcs8 -topk8 -in "$tmp/p256.pem" -v2 aes-256-cbc -passout pass:pw -outform DER |
  base64 -w0 >"$k/p256.encrypted.b64"
openssl ec -in "$tmp/p256.pem" -aes128 -passout pass:pw 2>/dev/null >"$k/p256.sec1-encrypted.pem"
openssl req -x509 -new -key "$tmp/p256.pem" -subj /CN=fuzz -days 1 >"$k/p256.cert.pem" 2>/dev/null
openssl req -x509 -new -key "$tmp/p256.pem" -subj /CN=fuzz -days 1 -outform DER 2>/dev/null |
  base64 -w0 >"$k/p256.cert.b64"
gen -algorithm RSA -pkeyopt rsa_keygen_bits:1024 >"$k/rsa1024.pkcs8.pem"
gen -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 >"$k/secp256k1.pkcs8.pem"
gen -algorithm X25519 >"$k/x25519.pkcs8.pem"
gen -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 >"$k/rsa-pss.pkcs8.pem"

# JWKs, from the components `openssl pkey -text` prints.
for name in rsa p256 p384 p521 ed25519; do
  openssl pkey -in "$tmp/$name.pem" -text -noout >"$tmp/$name.txt"
done
python3 - "$tmp" "$k" <<'EOF'
import base64, json, re, sys

tmp, out = sys.argv[1], sys.argv[2]

def fields(name):
    """name -> bytes for every hex block of `openssl pkey -text`."""
    text = open(f"{tmp}/{name}.txt").read()
    result, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s*(.*)$", line)
        if m:
            current = m.group(1)
            result[current] = m.group(2)
        elif current and line.startswith(" "):
            result[current] += line.strip()
    return {k: bytes.fromhex(v.replace(":", "")) if re.fullmatch(r"[0-9a-f:]+", v) else v
            for k, v in result.items()}

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def strip(b):
    """An unsigned integer's bytes, without the sign byte openssl prints."""
    return b.lstrip(b"\0") or b"\0"

def write(name, jwk):
    with open(f"{out}/{name}.jwk", "w") as f:
        json.dump(jwk, f)

r = fields("rsa")
e = int(re.match(r"(\d+)", r["publicExponent"]).group(1))
rsa = {"kty": "RSA", "n": b64u(strip(r["modulus"])), "e": b64u(e.to_bytes(3, "big").lstrip(b"\0")),
       "d": b64u(strip(r["privateExponent"])), "p": b64u(strip(r["prime1"])),
       "q": b64u(strip(r["prime2"])), "dp": b64u(strip(r["exponent1"])),
       "dq": b64u(strip(r["exponent2"])), "qi": b64u(strip(r["coefficient"]))}
write("rsa", dict(rsa, alg="PS256", kid="rsa-1"))
write("rsa.public", {k: rsa[k] for k in ("kty", "n", "e")})

for name, crv, size in (("p256", "P-256", 32), ("p384", "P-384", 48), ("p521", "P-521", 66)):
    f = fields(name)
    pub = f["pub"][1:]  # 04 || x || y
    d = strip(f["priv"]).rjust(size, b"\0")
    write(name, {"kty": "EC", "crv": crv, "x": b64u(pub[:size]), "y": b64u(pub[size:]),
                 "d": b64u(d), "kid": f"{name}-1"})
write("p256.with-alg", dict(json.load(open(f"{out}/p256.jwk")), alg="ES256", use="sig"))

f = fields("ed25519")
write("ed25519", {"kty": "OKP", "crv": "Ed25519", "d": b64u(f["priv"]), "x": b64u(f["pub"])})
write("jwk-set", {"keys": [json.load(open(f"{out}/p256.jwk"))]})
EOF

# --- token responses: 2 bytes of status (little-endian), then the body ------
t="$out/token_response"
tok() { { printf "$1"; printf '%s' "$3"; } >"$t/$2"; }
tok '\xc8\x00' full.json '{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln","token_type":"Bearer","expires_in":3600,"scope":"openid profile","refresh_token":"8xLOxBtZp8","id_token":"eyJ0eXAiOiJKV1QifQ.e30.","sid":"s-1"}'
tok '\xc8\x00' minimal.json '{"access_token":"a","token_type":"bearer"}'
tok '\xc8\x00' expires-string.json '{"access_token":"at","token_type":"Bearer","expires_in":"60","scope":null}'
tok '\xc9\x00' escapes.json '{"access_token":"a\u0000b\ud83d\ude00","token_type":"B\"e\\arer","extra":{"nested":[1,2.5,true,null]}}'
tok '\xc8\x00' whitespace.json $' \n\t{ "token_type" : "Bearer" ,\r\n "access_token" : "x" } \n'
tok '\xc8\x00' duplicate.json '{"access_token":"x","token_type":"Bearer","access_token":"y"}'
tok '\xc8\x00' wrong-types.json '{"access_token":5,"token_type":"Bearer","expires_in":-1,"refresh_token":[]}'
tok '\xc8\x00' big-number.json '{"access_token":"x","token_type":"Bearer","expires_in":9223372036854775808}'
tok '\xcc\x00' not-json.txt 'access_token=x&token_type=Bearer'

# --- OAuth errors: status (2), off1 len1 off2 len2, then the body template --
# The secrets are slices of the template; in it, bytes 1/2 echo secret 1/2,
# 3/4 form-encoded, 5/6 JSON-escaped (see fuzz_targets/oauth_error.rs).
python3 - "$out/oauth_error" <<'EOF'
import struct, sys

out = sys.argv[1]

def seed(name, status, template, secret1, secret2=None):
    t = template.encode() if isinstance(template, str) else template
    def locate(s):
        if s is None:
            return 0, 0
        i = t.index(s.encode())
        assert i < 256 and len(s.encode()) < 256
        return i, len(s.encode())
    o1, l1 = locate(secret1)
    o2, l2 = locate(secret2)
    with open(f"{out}/{name}", "wb") as f:
        f.write(struct.pack("<HBBBB", status, o1, l1, o2, l2) + t)

seed("oauth-echo.json", 401,
     '{"error":"invalid_client","error_description":"bad secret s3cr3t-P@ss w0rd!! (\x03)",'
     '"error_uri":"https://as.example/e?s=\x05"}', "s3cr3t-P@ss w0rd!!")
assertion = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJjbGllbnQiLCJhdWQiOiJodHRwczovL2FzIn0." + "Qk1" * 40
seed("proxy-echo.html", 400,
     "<!-- " + assertion + " client_secret=Zx9-secret-value --><html><body>bad request: "
     "grant_type=client_credentials&client_secret=\x03&client_assertion=\x04</body></html>",
     "Zx9-secret-value", assertion)
long_secret = "Zq8-VbN3xR2mK7pT_w9YcL4hD0sF6gJ1aE5uO3iM"
seed("long-description.json", 400,
     '{"hint":"' + long_secret + '","error":"invalid_request","error_description":"'
     + "request rejected; " * 56 + 'client_secret=\x01"}', long_secret)
seed("redirect.txt", 302, "Moved: https://login.example/?secret=hunter2hunter2", "hunter2hunter2")
seed("plain-500.txt", 500, "internal error\r\n\ttoken=abcdefgh12345678\x00\x1b[31m", "abcdefgh12345678")
seed("oauth-minimal.json", 400, '{"error":"invalid_grant"}', "invalid_grant")
seed("not-oauth.json", 400, '{"error":5,"message":"opaque-token-123456"}', "opaque-token-123456")
EOF

# --- endpoint URLs, Talkdesk accounts, PingOne "base<NUL>env" ---------------
u="$out/endpoint_url"
n=0
while IFS= read -r line; do
  n=$((n + 1))
  printf '%b' "$line" >"$u/$(printf '%02d' $n)"
done <<'EOF'
https://acme.talkdeskid.com/oauth/token
https://auth.pingone.com/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9/as/token
https://[2001:db8::1]:8443/token?x=1
http://127.0.0.1:8080/oauth/token
http://localhost/token
http://[::1]:9/token
HTTPS://Example.COM:443/a/b?c=d&e=f
https://user:pw@host/token
https://host/token#frag
http://example.com/token
acme
Acme-2
https://auth.pingone.eu\x000f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9
http://127.0.0.1:3000/\x00env-1
https://auth.pingone.com/path\x00env
EOF
echo "seeds written to $(pwd)/$out"
