#!/usr/bin/env bash
# Push and pull of a fixture-sized image (~35 MB gzip, the peers' benchmark image) with
# skopeo, through `strata serve` and through Debian's `docker-registry` (distribution
# 2.8), timed with hyperfine in one run. Both registries use the local filesystem,
# plain HTTP on 127.0.0.1 and no request logs.
#
#   bench/serve/bench.sh              # build strata (release), run, print the tables
#   STRATA=/path/to/strata RUNS=10 bench/serve/bench.sh
#
# Everything it writes lives under $WORK (default /tmp/strata-bench-serve). Each push
# starts from an empty registry (hyperfine --prepare restarts it over a wiped root);
# pulls go to a fresh `dir:` destination each time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
WORK="${WORK:-/tmp/strata-bench-serve}"
RUNS="${RUNS:-8}"
PEERS_FIXTURE="${PEERS_FIXTURE:-/work/shared/peers/fixture}"

# ---- helpers used by hyperfine's --prepare (the script calls itself) ----------------

source "$REPO/bench/lib.sh"

stop_registry() { # NAME
  local pidfile="$WORK/$1.pid"
  if [ -f "$pidfile" ]; then
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$pidfile"
  fi
}

start_registry() { # NAME (strata|distribution); port from $WORK/NAME.port
  local name="$1" port
  port="$(cat "$WORK/$name.port")"
  case "$name" in
    strata)
      "$(cat "$WORK/strata.bin")" serve --addr "127.0.0.1:$port" --storage "fs:$WORK/strata-root" \
        >/dev/null 2>>"$WORK/strata.log" &
      ;;
    distribution)
      start_distribution "$WORK/distribution-root" "$port"
      echo "$registry_pid" >"$WORK/$name.pid"
      return
      ;;
  esac
  echo $! >"$WORK/$name.pid"
  wait_http "http://127.0.0.1:$port/v2/"
}

restart_empty() { # NAME
  stop_registry "$1"
  rm -rf "${WORK:?}/$1-root"
  start_registry "$1"
}

case "${1:-}" in
  _restart_empty) restart_empty "$2"; exit 0 ;;
  _stop) stop_registry "$2"; exit 0 ;;
esac

# ---- setup ------------------------------------------------------------------------

for tool in skopeo hyperfine curl python3 gzip tar; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
if ! command -v docker-registry >/dev/null; then
  echo "installing Debian's docker-registry" >&2
  apt-get install -y -q docker-registry >/dev/null
fi
mkdir -p "$WORK"

if [ -z "${STRATA:-}" ]; then
  (cd "$REPO" && cargo build --release -q -p strata --bin strata)
  STRATA="${CARGO_TARGET_DIR:-$REPO/target}/release/strata"
fi
echo "$STRATA" >"$WORK/strata.bin"

# The image: the peers fixture's shape (bench/make-fixture-image.sh).
LAYOUT="$WORK/fixture-oci"
"$REPO/bench/make-fixture-image.sh" "$LAYOUT"
SIZE_MB="$(du -sb "$LAYOUT/blobs" | awk '{printf "%.1f", $1/1e6}')"

for name in strata distribution; do
  free_port >"$WORK/$name.port"
  stop_registry "$name"
done
trap 'for n in strata distribution; do stop_registry $n; done' EXIT

SKOPEO="skopeo --insecure-policy copy --quiet"
push_cmd() { echo "$SKOPEO --dest-tls-verify=false oci:$LAYOUT:1 docker://127.0.0.1:$(cat "$WORK/$1.port")/bench/fixture:1"; }
pull_cmd() { echo "rm -rf $WORK/pulled && $SKOPEO --src-tls-verify=false docker://127.0.0.1:$(cat "$WORK/$1.port")/bench/fixture:1 dir:$WORK/pulled"; }

echo "== push (empty registry each run), $SIZE_MB MB image" >&2
hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/push.json" \
  -n "strata serve" --prepare "$0 _restart_empty strata" "$(push_cmd strata)" \
  -n "docker-registry 2.8" --prepare "$0 _restart_empty distribution" "$(push_cmd distribution)"

echo "== pull into an empty dir:" >&2
hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/pull.json" \
  -n "strata serve" "$(pull_cmd strata)" \
  -n "docker-registry 2.8" "$(pull_cmd distribution)"

# Resident memory after the runs (peak, VmHWM) of the registries that served the pulls.
for name in strata distribution; do
  pid="$(cat "$WORK/$name.pid")"
  echo "$name peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$pid/status")" >&2
done

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
for what in ("push", "pull"):
    res = json.load(open(f"{work}/{what}.json"))["results"]
    print(f"\n{what}:")
    print("| registry | mean | median | min | max |")
    print("|---|---|---|---|---|")
    for r in res:
        print(f"| {r['command']} | {r['mean']*1000:.0f} ms ± {r['stddev']*1000:.0f} | {r['median']*1000:.0f} ms "
              f"| {r['min']*1000:.0f} ms | {r['max']*1000:.0f} ms |")
    s, d = res[0]["median"], res[1]["median"]
    print(f"\nstrata / docker-registry (median): {s/d:.2f}")
PY
