#!/usr/bin/env bash
# Strata's main job on an example, from a fresh Debian machine: installs what it needs, builds
# strata (release), makes a busybox base image from Debian's busybox-static and shows it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/deps.sh demo

echo "== building strata (release)"
cargo build --release --locked -p strata
strata="$PWD/target/release/strata"

export STRATA_ROOT="${STRATA_ROOT:-$PWD/target/demo-root}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== making a busybox rootfs from busybox-static"
scripts/make-busybox-rootfs.sh "$work/rootfs" >/dev/null

run() { printf '\n$ strata %s\n' "$*"; "$strata" "$@"; }
run import --change 'CMD ["sh"]' --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
  --message "busybox from Debian's busybox-static" "$work/rootfs" demo/busybox:1.35
run tag demo/busybox:1.35 demo/busybox:latest
run images
run inspect --format '{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Cmd}}' demo/busybox
run history demo/busybox:1.35
run inspect demo/busybox:latest
run save -o "$work/busybox.tar" demo/busybox:1.35
echo "(saved $(du -h "$work/busybox.tar" | cut -f1) docker-archive)"
run system check
printf '\nstore: %s (an OCI image layout under oci/)\n' "$STRATA_ROOT"
