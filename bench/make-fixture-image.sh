#!/usr/bin/env bash
# Writes the benchmark image into an OCI layout (tag `1`), once: the peers fixture's shape
# without building it — a base layer (busybox), the builder stage's output (16 MiB of zeros,
# 2.5 M numbers, their gzip, 200k random hex lines) and the application context (~2000 files
# with 24 MiB of incompressible assets), as gzip layers. Used by the registry benchmarks.
#   bench/make-fixture-image.sh LAYOUT_DIR
set -euo pipefail
LAYOUT="${1:?usage: bench/make-fixture-image.sh LAYOUT_DIR}"
PEERS_FIXTURE="${PEERS_FIXTURE:-/work/shared/peers/fixture}"
SRC="$LAYOUT.src"
if [ ! -f "$LAYOUT/index.json" ]; then
  echo "generating the fixture image" >&2
  rm -rf "$SRC" "$LAYOUT"
  mkdir -p "$SRC/base/bin" "$SRC/data/app/data" "$SRC/ctx"
  cp "$(command -v busybox)" "$SRC/base/bin/busybox"
  out="$SRC/data/app/data"
  head -c $((16 << 20)) /dev/zero >"$out/zeros.bin"
  seq 1 2500000 >"$out/numbers.txt"
  gzip -9n <"$out/numbers.txt" >"$out/numbers.txt.gz"
  python3 -c '
import random
r = random.Random(7)
print("".join("%08x%08x\n" % (r.getrandbits(32), r.getrandbits(32)) for _ in range(200000)), end="")
' >"$out/hex.txt"
  bash "$PEERS_FIXTURE/gen-context.sh" "$SRC/ctx/app" >/dev/null
  rm -rf "$SRC/ctx/app/.git" "$SRC/ctx/app/logs" "$SRC/ctx/app/tmp"
  python3 - "$SRC" "$LAYOUT" <<'PY'
import gzip, hashlib, io, json, os, subprocess, sys
src, layout = sys.argv[1], sys.argv[2]
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d, len(data)
layers, diff_ids = [], []
for part in ("base", "data", "ctx"):
    tar = subprocess.run(["tar", "--sort=name", "--mtime=@1700000000", "--owner=0", "--group=0",
                          "--numeric-owner", "-C", os.path.join(src, part), "-cf", "-", "."],
                         check=True, capture_output=True).stdout
    diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    gz = subprocess.run(["gzip", "-6n"], input=tar, check=True, capture_output=True).stdout
    d, n = put(gz)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
config = json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Env": ["APP_HOME=/app"], "Cmd": ["app"], "WorkingDir": "/app", "User": "app"},
    "rootfs": {"type": "layers", "diff_ids": diff_ids}}, separators=(",", ":")).encode()
cd, cn = put(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
    "layers": layers}, separators=(",", ":")).encode()
md, mn = put(manifest)
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(layout, "oci-layout"), "w"))
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": "1"}}]},
    open(os.path.join(layout, "index.json"), "w"))
total = sum(l["size"] for l in layers)
print(f"fixture: {len(layers)} layers, {total / 1e6:.1f} MB gzip", file=sys.stderr)
PY
fi
