#!/usr/bin/env bash
# Image insight speed: `scan db import` of ≥100,000 OSV records (target ≤ 30 s), then SBOM +
# scan of a `debootstrap --variant=minbase bookworm` image against that index (target ≤ 1 s
# warm). The minbase rootfs is shared with the tests' cache (~/.cache/strata-test, or
# $STRATA_TEST_CACHE); the generated archives are kept in $STRATA_BENCH_CACHE (default the same
# cache) so reruns skip generation. Usage: [STRATA_BIN=path] bench/insight.sh [N_RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
records="${1:-100000}"
# STRATA_BIN: an already built release binary (skips the build).
if [ -z "${STRATA_BIN:-}" ]; then
  cargo build --release -p strata >&2
fi
strata="${STRATA_BIN:-$PWD/target/release/strata}"
cache="${STRATA_TEST_CACHE:-$HOME/.cache/strata-test}"
mkdir -p "$cache"
rootfs="$cache/debian-minbase"
if [ ! -e "$cache/debian-minbase.ok" ]; then
  command -v debootstrap >/dev/null || { echo "bench/insight.sh needs debootstrap (scripts/deps.sh test)" >&2; exit 1; }
  rm -rf "$cache/debian-minbase.tmp" "$rootfs"
  mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
  debootstrap --variant=minbase bookworm "$cache/debian-minbase.tmp" "${mirror:-http://deb.debian.org/debian}" >&2
  mv "$cache/debian-minbase.tmp" "$rootfs"
  echo "${mirror:-http://deb.debian.org/debian}" > "$cache/debian-minbase.ok"
fi
osv="${STRATA_BENCH_CACHE:-$cache}/osv-bench-$records"
if [ ! -e "$osv/done" ]; then
  rm -rf "$osv"
  python3 bench/insight_gen.py "$osv" "$records" "$rootfs/var/lib/dpkg/status" >/dev/null
  touch "$osv/done"
fi

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export STRATA_ROOT="$work/root"

# Median wall time in seconds of N runs of a command (output discarded).
median() {
  local n="$1"; shift
  local times=()
  for _ in $(seq "$n"); do
    local t0 t1
    t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
    times+=("$(( (t1 - t0) / 1000000 ))")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}'
}

t0=$(date +%s%N)
"$strata" scan db import "$osv"/*.zip
t1=$(date +%s%N)
import_s=$(awk -v d=$(( (t1 - t0) / 1000000 )) 'BEGIN {printf "%.2f", d/1000}')
"$strata" scan db status >&2
"$strata" import "$rootfs" bench/debian:minbase >/dev/null
pkgs=$("$strata" sbom --format json bench/debian:minbase | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))')
findings=$("$strata" scan --format json bench/debian:minbase | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["total"])')

# Warm: page cache hot, the image's catalog cached (what a CI rerun or `build --scan` sees).
scan_warm=$(median 9 "$strata" scan bench/debian:minbase)
# Every layer read again (catalog cache bypassed), then the scan.
sbom_nocache=$(median 5 "$strata" sbom --no-cache --format json bench/debian:minbase)
full=$(median 5 sh -c "'$strata' sbom --no-cache bench/debian:minbase >/dev/null && '$strata' scan bench/debian:minbase")

cat <<EOF
| measurement ($records OSV records, Debian minbase: $pkgs packages, $findings findings) | seconds | target |
|---|---|---|
| scan db import (5 archives) | $import_s | ≤ 30 |
| scan, warm (catalog cached) | $scan_warm | ≤ 1 |
| sbom --no-cache (all layers read) | $sbom_nocache | |
| sbom --no-cache + scan | $full | ≤ 1 |
EOF
