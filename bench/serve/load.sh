#!/usr/bin/env bash
# Registry throughput under load: `strata serve` and Debian's `docker-registry` (distribution
# 2.8) side by side in one run, both on the local filesystem, plain HTTP on 127.0.0.1, request
# logs off. 64 concurrent clients (crates/strata-server/examples/load.rs) for each scenario:
# 1 MiB blob GETs, manifest GETs, 16 MiB blob pushes. Prints a markdown table per scenario and
# the ratios strata / docker-registry (throughput: higher is better; p99: lower is better).
#
#   bench/serve/load.sh                      # CLIENTS=64 DURATION=10 (seconds) by default
#   CLIENTS=64 DURATION=20 bench/serve/load.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
source "$REPO/scripts/env.sh"
WORK="${WORK:-/tmp/strata-bench-load}"
CLIENTS="${CLIENTS:-64}"
SECONDS_EACH="${DURATION:-10}"
rm -rf "$WORK"; mkdir -p "$WORK"

command -v docker-registry >/dev/null || { echo "installing Debian's docker-registry" >&2; apt-get install -y -q docker-registry >/dev/null; }
# STRATA and LOAD name prebuilt binaries; otherwise both are built (release).
if [ -z "${STRATA:-}" ] || [ -z "${LOAD:-}" ]; then
  (cd "$REPO" && cargo build --release -q -p strata --bin strata && cargo build --release -q -p strata-server --example load)
  TARGET="${CARGO_TARGET_DIR:-$REPO/target}/release"
  STRATA="$TARGET/strata"; LOAD="$TARGET/examples/load"
fi

source "$REPO/bench/lib.sh"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start() { # NAME PORT
  case "$1" in
    strata)
      "$STRATA" serve --addr "127.0.0.1:$2" --storage "fs:$WORK/strata-root" >/dev/null 2>"$WORK/strata.log" & ;;
    docker-registry)
      start_distribution "$WORK/distribution-root" "$2"
      pids+=("$registry_pid")
      return ;;
  esac
  pids+=($!)
  wait_http "http://127.0.0.1:$2/v2/" || exit 1
}

declare -A PORT
for name in strata docker-registry; do PORT[$name]="$(free_port)"; start "$name" "${PORT[$name]}"; done

for scenario in blob-get manifest-get blob-push; do
  for name in strata docker-registry; do
    "$LOAD" --base "http://127.0.0.1:${PORT[$name]}" --scenario "$scenario" \
      --clients "$CLIENTS" --seconds "$SECONDS_EACH" --repo "bench/$scenario" >"$WORK/$scenario-$name.json"
  done
done

python3 - "$WORK" "$CLIENTS" <<'PY'
import json, sys
work, clients = sys.argv[1], sys.argv[2]
for scenario in ("blob-get", "manifest-get", "blob-push"):
    rows = {n: json.load(open(f"{work}/{scenario}-{n}.json")) for n in ("strata", "docker-registry")}
    print(f"\n{scenario}, {clients} clients:")
    print("| registry | ops/s | MiB/s | p50 | p90 | p99 | errors |")
    print("|---|---|---|---|---|---|---|")
    for n, r in rows.items():
        print(f"| {n} | {r['ops_per_s']:.0f} | {r['mib_per_s']:.0f} | {r['p50_ms']:.1f} ms | {r['p90_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['errors']} |")
    s, d = rows["strata"], rows["docker-registry"]
    print(f"\nthroughput strata / docker-registry: {s['ops_per_s'] / max(d['ops_per_s'], 1e-9):.2f}x; "
          f"p99 strata / docker-registry: {s['p99_ms'] / max(d['p99_ms'], 1e-9):.2f}")
PY
