#!/usr/bin/env bash
# Registry client speed, side by side in one run, against Debian's `docker-registry`
# (distribution 2.8) on 127.0.0.1, with the fixture-sized image (bench/make-fixture-image.sh):
#   push            strata push            vs  skopeo copy oci:… docker://…   (empty registry each run)
#   pull, cold      strata pull (+unpack)  vs  podman pull                    (empty store each run)
#   pull, warm      strata pull of an unchanged image (target ≤ 50 ms)
# Podman uses private storage (overlay driver, as in ../shared/peers) under $WORK.
#
#   bench/registry.sh            RUNS=5 by default
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
source "$REPO/scripts/env.sh"
source "$REPO/bench/lib.sh"
WORK="${WORK:-/tmp/strata-bench-registry}"
RUNS="${RUNS:-5}"
mkdir -p "$WORK"

stop_registry() {
  if [ -f "$WORK/registry.pid" ]; then
    kill "$(cat "$WORK/registry.pid")" 2>/dev/null || true
    while kill -0 "$(cat "$WORK/registry.pid")" 2>/dev/null; do sleep 0.05; done
    rm -f "$WORK/registry.pid"
  fi
}
start_registry() { # empty each time
  stop_registry
  rm -rf "$WORK/registry-root"
  start_distribution "$WORK/registry-root" "$(cat "$WORK/port")"
  echo "$registry_pid" >"$WORK/registry.pid"
}
export CONTAINERS_STORAGE_CONF="$WORK/podman/storage.conf" CONTAINERS_CONF="$WORK/podman/containers.conf"
export CONTAINERS_REGISTRIES_CONF="$WORK/podman/registries.conf"
case "${1:-}" in
  _registry) start_registry; exit 0 ;;
  _podman_reset) podman rmi -a -f >/dev/null 2>&1 || true; exit 0 ;;
esac

for tool in skopeo podman hyperfine docker-registry curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/registry.sh needs $tool (../shared/peers/setup.sh installs the peers)" >&2; exit 1; }
done
if [ -z "${STRATA:-}" ]; then  # a prebuilt binary, or build it (release)
  (cd "$REPO" && cargo build --release -q --locked -p strata --bin strata)
  STRATA="${CARGO_TARGET_DIR:-$REPO/target}/release/strata"
fi
free_port >"$WORK/port"
PORT="$(cat "$WORK/port")"; REG="127.0.0.1:$PORT"
trap 'stop_registry; podman rmi -a -f >/dev/null 2>&1 || true' EXIT

mkdir -p "$WORK/podman"
cat >"$WORK/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$WORK/podman/run"
graphroot = "$WORK/podman/storage"
EOF
cat >"$WORK/podman/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/podman/events.log"
EOF
printf 'unqualified-search-registries = []\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG" >"$WORK/podman/registries.conf"

LAYOUT="$WORK/fixture-oci"
"$REPO/bench/make-fixture-image.sh" "$LAYOUT"
SIZE_MB="$(du -sb "$LAYOUT/blobs" | awk '{printf "%.1f", $1/1e6}')"

# The image in a strata store, as it would be after a build.
export STRATA_ROOT="$WORK/src-root"
if ! "$STRATA" inspect bench/fixture:1 >/dev/null 2>&1; then
  rm -rf "$STRATA_ROOT" "$WORK/fixture.tar"
  skopeo --insecure-policy copy -q "oci:$LAYOUT:1" "oci-archive:$WORK/fixture.tar:bench/fixture:1"
  "$STRATA" load -q -i "$WORK/fixture.tar" >/dev/null
  "$STRATA" tag "$("$STRATA" images -q | head -1)" bench/fixture:1
fi

echo "== push, $SIZE_MB MB image, empty registry each run" >&2
hyperfine --runs "$RUNS" --export-json "$WORK/push.json" \
  --prepare "$0 _registry" -n "strata push" "$STRATA push -q bench/fixture:1 $REG/bench/fixture:1" \
  --prepare "$0 _registry" -n "skopeo copy" "skopeo --insecure-policy copy -q --dest-tls-verify=false oci:$LAYOUT:1 docker://$REG/bench/fixture:1" >&2

echo "== pull into an empty store, including unpack" >&2
start_registry
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$LAYOUT:1" "docker://$REG/bench/fixture:1"
hyperfine --runs "$RUNS" --export-json "$WORK/pull.json" \
  --prepare "rm -rf $WORK/pull-root" -n "strata pull" "env STRATA_ROOT=$WORK/pull-root $STRATA pull -q $REG/bench/fixture:1" \
  --prepare "$0 _podman_reset" -n "podman pull" "podman pull -q --tls-verify=false $REG/bench/fixture:1" >&2

echo "== second pull of an unchanged image" >&2
hyperfine --warmup 2 --runs 20 --export-json "$WORK/repull.json" -N \
  -n "strata pull (unchanged)" "env STRATA_ROOT=$WORK/pull-root $STRATA pull -q $REG/bench/fixture:1" >&2

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
def med(name): return {r["command"]: r for r in json.load(open(f"{work}/{name}.json"))["results"]}
push, pull, repull = med("push"), med("pull"), med("repull")
print("| operation | strata | peer | ratio |")
print("|---|---|---|---|")
p = push["strata push"]["median"], push["skopeo copy"]["median"]
print(f"| push (vs skopeo copy) | {p[0]*1000:.0f} ms | {p[1]*1000:.0f} ms | {p[0]/p[1]:.2f}x |")
q = pull["strata pull"]["median"], pull["podman pull"]["median"]
print(f"| pull into an empty store (vs podman pull) | {q[0]*1000:.0f} ms | {q[1]*1000:.0f} ms | {q[0]/q[1]:.2f}x |")
r = repull["strata pull (unchanged)"]["median"]
print(f"| second pull, unchanged | {r*1000:.1f} ms | | |")
PY
