#!/usr/bin/env bash
# Container start latency (as root): median of `strata run --rm IMAGE true` (default bridge
# network) and of `strata run -d -p 127.0.0.1::80 IMAGE httpd` until the container runs
# (the command returns once the monitor reports the container started; removal excluded).
# Targets: ≤ 40 ms and ≤ 80 ms. Usage: bench/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
runs="${1:-30}"
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh needs root (overlayfs, namespaces)" >&2; exit 1; }
if [ -n "${STRATA:-}" ]; then strata="$STRATA"  # a prebuilt binary
else cargo build --release --locked -p strata >&2; strata="$PWD/target/release/strata"; fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export STRATA_ROOT="$work/root"
scripts/make-busybox-rootfs.sh "$work/rootfs" >/dev/null
"$strata" import -c 'CMD ["sh"]' -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' "$work/rootfs" bench/run:1 >/dev/null
"$strata" run --rm bench/run:1 true  # unpack the snapshot, create the bridge

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for _ in $(seq "$runs"); do
  t=$(date +%s%N); "$strata" run --rm bench/run:1 true; ms "$t"
done > "$work/rm.txt"
for _ in $(seq "$runs"); do
  t=$(date +%s%N); "$strata" run --rm --network none bench/run:1 true; ms "$t"
done > "$work/none.txt"
for _ in $(seq "$runs"); do
  t=$(date +%s%N)
  id=$("$strata" run -d -p 127.0.0.1::80 bench/run:1 httpd -f -p 80)
  ms "$t"
  "$strata" rm -f "$id" >/dev/null
done > "$work/p.txt"
printf '| benchmark | median (ms) | target |\n|---|---|---|\n'
printf '| strata run --rm IMAGE true (bridge) | %s | ≤ 40 |\n' "$(median < "$work/rm.txt")"
printf '| strata run --rm --network none IMAGE true | %s | |\n' "$(median < "$work/none.txt")"
printf '| strata run -d -p 127.0.0.1::80 IMAGE httpd (start) | %s | ≤ 80 |\n' "$(median < "$work/p.txt")"
