#!/usr/bin/env bash
# CLI latency on a store of 100 images: `images`, `inspect`, `history` (medians via hyperfine).
# Peers (docker/podman) are measured by ../shared/peers/bench.sh; their figures are in
# ../shared/peers/README.md (16–37 ms here). Usage: bench/cli.sh [N_IMAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
n="${1:-100}"
command -v hyperfine >/dev/null || { echo "bench/cli.sh needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
if [ -n "${STRATA:-}" ]; then strata="$STRATA"  # a prebuilt binary
else cargo build --release --locked -p strata >&2; strata="$PWD/target/release/strata"; fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export STRATA_ROOT="$work/root"
scripts/make-busybox-rootfs.sh "$work/rootfs" >/dev/null
"$strata" import -c 'CMD ["sh"]' "$work/rootfs" bench/base:1 >/dev/null
mkdir -p "$work/small"
for i in $(seq 2 "$n"); do
  echo "$i" > "$work/small/file"
  if (( i % 2 )); then "$strata" import "$work/small" "bench/img$i:1.$i" >/dev/null
  else "$strata" tag bench/base:1 "bench/tag$i:$i"; fi
done
echo "store: $("$strata" images -q | wc -l) image IDs, $("$strata" images | tail -n +2 | wc -l) tags" >&2
hyperfine -N --warmup 5 --runs 50 --export-json "$work/cli.json" \
  -n images "$strata images" -n inspect "$strata inspect bench/base:1" \
  -n history "$strata history bench/base:1" >&2
# Medians: the machine is shared, and a mean follows its stalls.
python3 - "$work/cli.json" <<'PY'
import json, sys
print("| command | median | min | max |")
print("|---|---|---|---|")
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"| strata {r['command']} | {r['median']*1000:.1f} ms | {r['min']*1000:.1f} ms | {r['max']*1000:.1f} ms |")
PY
