#!/usr/bin/env bash
# The C tests that need no network (`make test-c`):
#   1. test_core, one program built from every file of tests/c/core/
#      (main.c and one file per concern), plainly;
#   2. the same binary under valgrind (no errors, no definite/indirect leaks);
#   3. test_core built with AddressSanitizer + UndefinedBehaviorSanitizer
#      (with LeakSanitizer when this machine lets it run);
#   4. test_core built with ThreadSanitizer (tests/c/tsan.supp);
#   5. test_header.cpp: the header from C++17;
#   6. test_panic.c, plainly and under valgrind, when the library is the
#      test-hooks build (which exports tokenclient_test_panic).
# Keys of every format are made here with the openssl CLI, in a temporary
# directory removed on exit. Binaries and logs go to build/c-tests/.
# Needs target/release/libtokenclient.so (`cargo build --release`), or the
# library in $TOKENCLIENT_LIBDIR (`make test` uses the test-hooks build in
# target/hooks/release and sets TOKENCLIENT_REQUIRE_TEST_HOOKS=1, which makes
# stage 6 required rather than skipped).
# Environment: CC, CXX; TC_ITERATIONS (assertions per thread in the plain
# and ASan runs, default 500); TC_VALGRIND_ITERATIONS (default 100) and
# TC_TSAN_ITERATIONS (default 100).
# Exit status: non-zero if any stage failed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lib="${TOKENCLIENT_LIBDIR:-$repo/target/release}"
out="$repo/build/c-tests"
CC="${CC:-cc}"
CXX="${CXX:-c++}"

if [ ! -f "$lib/libtokenclient.so" ]; then
  echo "run.sh: $lib/libtokenclient.so is missing: run 'cargo build --release' first" >&2
  exit 1
fi
mkdir -p "$out"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tokenclient-c-tests.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
keys="$tmp/keys"
mkdir "$keys"

# The library's SONAME (libtokenclient.so.0) is what the test binaries will
# look for; `make build` links it beside the library. When it is missing
# (a bare `cargo build`), a link to it in build/c-tests/lib is used instead.
rpath=(-Wl,-rpath,"$lib")
soname="$(readelf -d "$lib/libtokenclient.so" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p' || true)"
if [ -n "$soname" ] && [ ! -e "$lib/$soname" ]; then
  mkdir -p "$out/lib"
  ln -sf "$lib/libtokenclient.so" "$out/lib/$soname"
  rpath+=(-Wl,-rpath,"$out/lib")
fi
ldflags=(-L"$lib" -ltokenclient "${rpath[@]}" -lcrypto)
cflags=(-std=c11 -Wall -Wextra -Werror -g -I"$repo/include" -pthread)
# The files of test_core: every stage builds all of them into one program.
core_src=("$repo"/tests/c/core/*.c)

# --- keys -------------------------------------------------------------------
echo "=== keys (openssl $(openssl version | cut -d' ' -f2)) in $keys"
ossl() {
  local log
  if ! log="$(openssl "$@" 2>&1)"; then
    echo "openssl $*: failed:" >&2
    echo "$log" >&2
    exit 1
  fi
}
b64() { openssl base64 -A -in "$1" | tr -d '\r\n' > "$2"; }
k="$keys"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k/p256.pem"
ossl ec -in "$k/p256.pem" -out "$k/p256-sec1.pem"
ossl ec -in "$k/p256.pem" -outform DER -out "$tmp/p256-sec1.der"
b64 "$tmp/p256-sec1.der" "$k/p256-sec1.b64"
# The key's numbers in hex, from which test_core builds a JWK (core/keys.c).
ossl pkey -in "$k/p256.pem" -text -noout -out "$k/p256.txt"
ossl pkey -in "$k/p256.pem" -outform DER -out "$tmp/p256.der"
b64 "$tmp/p256.der" "$k/p256.b64"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$k/p384.pem"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$k/p521.pem"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$k/rsa2048.pem"
ossl rsa -in "$k/rsa2048.pem" -traditional -out "$k/rsa2048-pkcs1.pem" 2>/dev/null \
  || ossl rsa -in "$k/rsa2048.pem" -out "$k/rsa2048-pkcs1.pem"
ossl genpkey -algorithm ED25519 -out "$k/ed25519.pem"
ossl pkcs8 -topk8 -in "$k/p256.pem" -passout pass:secret -out "$k/encrypted.pem"
ossl pkcs8 -topk8 -in "$k/p256.pem" -passout pass:secret -outform DER -out "$tmp/encrypted.der"
b64 "$tmp/encrypted.der" "$k/encrypted.b64"
ossl pkey -in "$k/p256.pem" -pubout -out "$k/public.pem"
ossl pkey -in "$k/p256.pem" -pubout -outform DER -out "$tmp/public.der"
b64 "$tmp/public.der" "$k/public.b64"
ossl ec -in "$k/p256.pem" -aes256 -passout pass:secret -out "$k/encrypted-sec1.pem"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$k/rsa1024.pem"
# Keys of types the library does not sign with.
ossl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$k/rsa-pss.pem"
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$k/secp256k1.pem"
ossl genpkey -algorithm ED448 -out "$k/ed448.pem"
ossl req -new -x509 -key "$k/p256.pem" -subj /CN=tokenclient-test -days 1 -out "$k/cert.pem"
# Each file is what its name says.
expect_label() { grep -q -- "-----BEGIN $2-----" "$k/$1" || { echo "$1: no BEGIN $2" >&2; exit 1; }; }
expect_label p256.pem "PRIVATE KEY"
expect_label p256-sec1.pem "EC PRIVATE KEY"
expect_label rsa2048.pem "PRIVATE KEY"
expect_label rsa2048-pkcs1.pem "RSA PRIVATE KEY"
expect_label ed25519.pem "PRIVATE KEY"
expect_label encrypted.pem "ENCRYPTED PRIVATE KEY"
expect_label public.pem "PUBLIC KEY"
expect_label cert.pem "CERTIFICATE"
grep -q "Proc-Type: 4,ENCRYPTED" "$k/encrypted-sec1.pem" || { echo "encrypted-sec1.pem: no Proc-Type" >&2; exit 1; }
grep -q "^priv:" "$k/p256.txt" || { echo "p256.txt: no priv:" >&2; exit 1; }
for f in p256.b64 p256-sec1.b64 encrypted.b64 public.b64; do
  if [ ! -s "$k/$f" ] || grep -q -e '-----' -e '[^A-Za-z0-9+/=]' "$k/$f" || [ "$(wc -l < "$k/$f")" -ne 0 ]; then
    echo "$f is not one line of bare base64" >&2
    exit 1
  fi
done
ls "$k" | tr '\n' ' '
echo

# --- stages -----------------------------------------------------------------
status=0
summary=()

# run_stage NAME FUNCTION: runs FUNCTION with its output shown and logged,
# and records its result, its time and its "N passed, N failed" line.
run_stage() {
  local name="$1" fn="$2" log="$out/$2.log" rc=0 start end secs counts
  echo
  echo "=== $name"
  start="$(date +%s%N)"
  if "$fn" 2>&1 | tee "$log"; then rc=0; else rc="${PIPESTATUS[0]}"; fi
  end="$(date +%s%N)"
  secs="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
  counts="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)"
  if [ "$rc" -eq 0 ]; then
    result=PASS
  else
    result="FAIL (exit $rc)"
    status=1
  fi
  echo "--- $name: $result in ${secs}s${counts:+ ($counts)}"
  summary+=("$(printf '%-58s %-14s %7ss  %s' "$name" "$result" "$secs" "${counts:-}")")
}

stage_plain() {
  "$CC" "${cflags[@]}" "${core_src[@]}" "${ldflags[@]}" -o "$out/test_core" || return 1
  "$out/test_core" "$keys"
}

stage_valgrind() {
  if ! command -v valgrind > /dev/null; then
    echo "valgrind is not installed"
    return 1
  fi
  # TC_QUICK: 2 parses of the RSA key, not 9 (each takes ~10 s under valgrind).
  TC_QUICK=1 TC_ITERATIONS="${TC_VALGRIND_ITERATIONS:-100}" valgrind --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    "$out/test_core" "$keys"
}

# Whether LeakSanitizer can run here (it needs ptrace, which some sandboxes
# forbid): a program that leaks on purpose must be caught.
lsan_works() {
  printf '#include <stdlib.h>\nvoid *volatile p;\nint main(void) { p = malloc(42); p = 0; return 0; }\n' \
    > "$tmp/leak.c"
  "$CC" -fsanitize=address -g "$tmp/leak.c" -o "$tmp/leak" || return 1
  local probe
  probe="$(ASAN_OPTIONS=detect_leaks=1 "$tmp/leak" 2>&1 || true)"
  if grep -q "detected memory leaks" <<< "$probe"; then
    return 0
  fi
  echo "LeakSanitizer cannot run on this machine, so leaks are not checked in this stage"
  echo "(valgrind checks them above). Its answer to a program that leaks on purpose:"
  sed 's/^/    /' <<< "$probe" | head -n 5
  return 1
}

stage_asan() {
  "$CC" "${cflags[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    "${core_src[@]}" "${ldflags[@]}" -o "$out/test_core_asan" || return 1
  local leaks=0
  if lsan_works; then
    leaks=1
    echo "LeakSanitizer works here (a deliberate leak was caught): detect_leaks=1"
  fi
  ASAN_OPTIONS="detect_leaks=$leaks:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$out/test_core_asan" "$keys"
}

stage_tsan() {
  "$CC" "${cflags[@]}" -fsanitize=thread -O1 "${core_src[@]}" "${ldflags[@]}" \
    -o "$out/test_core_tsan" || return 1
  # TSan needs a memory layout that high ASLR entropy breaks: run without ASLR when possible.
  local norand=()
  if setarch "$(uname -m)" -R true 2> /dev/null; then
    norand=(setarch "$(uname -m)" -R)
  fi
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$repo/tests/c/tsan.supp" \
    TC_ITERATIONS="${TC_TSAN_ITERATIONS:-100}" "${norand[@]}" "$out/test_core_tsan" "$keys"
}

stage_header() {
  "$CXX" -std=c++17 -Wall -Wextra -Werror -I"$repo/include" "$repo/tests/c/test_header.cpp" \
    "${ldflags[@]}" -o "$out/test_header" || return 1
  "$out/test_header"
}

stage_panic() {
  if ! nm -D --defined-only "$lib/libtokenclient.so" | grep -qw tokenclient_test_panic; then
    if [ -n "${TOKENCLIENT_REQUIRE_TEST_HOOKS:-}" ]; then
      echo "$lib/libtokenclient.so is not a test-hooks build (no tokenclient_test_panic)"
      return 1
    fi
    echo "skipped: $lib/libtokenclient.so is not a test-hooks build (make test uses one)"
    return 0
  fi
  "$CC" "${cflags[@]}" "$repo/tests/c/test_panic.c" "${ldflags[@]}" -o "$out/test_panic" || return 1
  "$out/test_panic" || return 1
  valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect "$out/test_panic"
}

run_stage "1. test_core (plain)" stage_plain
run_stage "2. test_core (valgrind memcheck, leak check)" stage_valgrind
run_stage "3. test_core (AddressSanitizer + UBSan + LeakSanitizer)" stage_asan
run_stage "4. test_core (ThreadSanitizer)" stage_tsan
run_stage "5. test_header.cpp (C++17)" stage_header
run_stage "6. test_panic (panic boundary, test-hooks build)" stage_panic

echo
echo "=== summary (logs in $out)"
printf '%s\n' "${summary[@]}"
if [ "$status" -eq 0 ]; then
  echo "C tests: all stages passed"
else
  echo "C tests: FAILED"
fi
exit "$status"
