#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (one after the other, one
# process each); prints what each reached and exits non-zero if any found a
# crash, a leak, a timeout or an out-of-memory.
#
#   fuzz/run.sh SECONDS [TARGET...]      (default: every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). Works on the stable
# toolchain: cargo-fuzz builds with AddressSanitizer (`-Zsanitizer=address`),
# which RUSTC_BOOTSTRAP=1 lets stable rustc accept. Each target's corpus is
# fuzz/corpus/TARGET (scratch, kept between runs, gitignored) read together
# with the committed seeds in fuzz/seeds/TARGET; libFuzzer's output goes to
# fuzz/logs/TARGET.log and any crashing input to fuzz/artifacts/TARGET/.
set -euo pipefail

usage() { echo "usage: $0 SECONDS [TARGET...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
seconds=$1
shift
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage

cd "$(dirname "$0")"
all=(key_parse token_response oauth_error endpoint_url oidc dpop)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz_targets/$t.rs" ] || { echo "no fuzz target $t (have: ${all[*]})" >&2; exit 2; }
done

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

# Longest input libFuzzer makes: past every length limit of the code under
# test (1024-byte OAuth descriptions, 8192-byte URLs, RSA-4096 PEM), small
# enough to keep executions fast.
max_len() {
  case $1 in
    endpoint_url) echo 10000 ;;
    *) echo 16384 ;;
  esac
}

export RUSTC_BOOTSTRAP=1
triple=$(rustc -vV | sed -n 's/^host: //p')

# fuzz/Cargo.lock is committed: refuse to build if it is out of date (cargo
# fuzz build has no --locked of its own). After a dependency change in the
# root Cargo.toml, refresh it with: cargo update --workspace --manifest-path fuzz/Cargo.toml
if ! cargo fetch --locked --manifest-path Cargo.toml --target "$triple" >/dev/null; then
  echo "fuzz/Cargo.lock is out of date (a dependency of the root Cargo.toml changed?):" >&2
  echo "  cargo update --workspace --manifest-path fuzz/Cargo.toml   # then commit fuzz/Cargo.lock" >&2
  exit 2
fi

echo "== cargo fuzz build --release (${targets[*]})"
start=$SECONDS
if [ ${#targets[@]} -eq ${#all[@]} ]; then
  cargo fuzz build --release --target "$triple"
else
  for t in "${targets[@]}"; do cargo fuzz build --release --target "$triple" "$t"; done
fi
echo "== built in $((SECONDS - start)) s"

mkdir -p logs
failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="logs/$t.log"
  echo "== $t: ${seconds} s (log: fuzz/$log)"
  stamp=$(mktemp)
  rc=0
  "target/$triple/release/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
    "corpus/$t" "seeds/$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
  line=$(printf '%-15s %5s s  executions %10s  corpus %-12s cov %5s  ft %6s' \
    "$t" "$seconds" "${execs:-?}" "${corp:-?}" "${cov:-?}" "${ft:-?}")
  if [ "$rc" -ne 0 ]; then
    line="$line  FAILED (exit $rc)"
    failed+=("$t")
    echo "-- $t failed (fuzz/$log):"
    grep -A 3 'panicked at' "$log" | grep -v '^stack backtrace' | head -n 8 || true
    grep -v '^#[0-9]' "$log" | grep -v '^ *#[0-9]' | tail -n 12
    find "artifacts/$t" -type f -newer "$stamp" | while read -r a; do
      echo "   reproduce: fuzz/target/$triple/release/$t fuzz/$a"
    done
  fi
  rm -f "$stamp"
  echo "$line"
  summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
