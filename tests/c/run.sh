#!/usr/bin/env bash
# The C tests without a network: test_core plainly, under valgrind, with
# AddressSanitizer+UBSan and with ThreadSanitizer; and the C++ header check.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
lib="$repo/target/release"
out="$repo/build/c-tests"
mkdir -p "$out"
keys="$(mktemp -d)"
trap 'rm -rf "$keys"' EXIT
CC="${CC:-cc}"
CXX="${CXX:-c++}"

# Keys of every format, made here.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$keys/p256.pem" 2>/dev/null
openssl ec -in "$keys/p256.pem" -out "$keys/p256-sec1.pem" 2>/dev/null
openssl pkey -in "$keys/p256.pem" -outform DER | base64 -w0 > "$keys/p256.b64"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$keys/p384.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$keys/p521.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/rsa2048.pem" 2>/dev/null
openssl rsa -in "$keys/rsa2048.pem" -traditional -out "$keys/rsa2048-pkcs1.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$keys/ed25519.pem" 2>/dev/null
openssl pkcs8 -topk8 -in "$keys/p256.pem" -passout pass:secret -out "$keys/encrypted.pem" 2>/dev/null
openssl pkey -in "$keys/p256.pem" -pubout -out "$keys/public.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$keys/rsa1024.pem" 2>/dev/null
grep -q "BEGIN RSA PRIVATE KEY" "$keys/rsa2048-pkcs1.pem"
grep -q "BEGIN EC PRIVATE KEY" "$keys/p256-sec1.pem"

cflags=(-std=c11 -Wall -Wextra -Werror -g -I"$repo/include" -pthread)
ldflags=(-L"$lib" -ltokenclient -Wl,-rpath,"$lib")
status=0
step() { echo "== $*"; }

step "test_core (plain)"
"$CC" "${cflags[@]}" "$repo/tests/c/test_core.c" "${ldflags[@]}" -o "$out/test_core"
"$out/test_core" "$keys" || status=1

step "test_core (valgrind)"
TC_ROUNDS=20 valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  "$out/test_core" "$keys" || status=1

step "test_core (AddressSanitizer + UndefinedBehaviorSanitizer)"
"$CC" "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
  "$repo/tests/c/test_core.c" "${ldflags[@]}" -o "$out/test_core_asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$out/test_core_asan" "$keys" || status=1

step "test_core (ThreadSanitizer)"
"$CC" "${cflags[@]}" -fsanitize=thread "$repo/tests/c/test_core.c" "${ldflags[@]}" -o "$out/test_core_tsan"
TSAN_OPTIONS="halt_on_error=1 suppressions=$repo/tests/c/tsan.supp" TC_ROUNDS=50 setarch "$(uname -m)" -R "$out/test_core_tsan" "$keys" || status=1

step "test_header.cpp (C++17)"
"$CXX" -std=c++17 -Wall -Wextra -Werror -I"$repo/include" "$repo/tests/c/test_header.cpp" "${ldflags[@]}" \
  -o "$out/test_header"
"$out/test_header" || status=1

[ "$status" -eq 0 ] && echo "== C tests: all passed" || echo "== C tests: FAILED"
exit "$status"
