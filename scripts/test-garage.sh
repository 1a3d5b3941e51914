#!/usr/bin/env bash
# The object-storage tests of `strata serve` against Garage, a real S3-compatible server:
# the storage conformance suite, the distribution API suite and two replicas over one bucket.
# Garage runs as a single node on 127.0.0.1 (free ports, data under a temporary directory) and
# is stopped when the script ends. The same tests run against moto in scripts/test.sh.
#
#   scripts/test-garage.sh             run when `garage` is installed; otherwise say so and exit 0
#   scripts/test-garage.sh --install   build Garage first (cargo install, pinned; ~30 min on 2 cores)
#
# .ci/run calls this before scripts/test.sh, so CI runs it on machines where Garage is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
GARAGE_VERSION=2.5.0

if [ "${1:-}" = --install ] && ! command -v garage >/dev/null; then
  cargo install garage --version "$GARAGE_VERSION" --locked --no-default-features \
    --features bundled-libs,sqlite
fi
if ! command -v garage >/dev/null; then
  echo "test-garage: skipped: garage is not installed (scripts/test-garage.sh --install builds $GARAGE_VERSION)"
  exit 0
fi
echo "== S3 tests against $(garage --version 2>/dev/null | head -1)"

work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rpc=$(free_port); s3=$(free_port); admin=$(free_port)
cat >"$work/garage.toml" <<EOF
metadata_dir = "$work/meta"
data_dir = "$work/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
EOF
g() { garage -c "$work/garage.toml" "$@"; }
garage -c "$work/garage.toml" server >"$work/garage.log" 2>&1 &
pid=$!
for _ in $(seq 100); do g status >/dev/null 2>&1 && break; sleep 0.2; done
g status >/dev/null || { echo "garage did not start:"; cat "$work/garage.log"; exit 1; }

node=$(g node id -q | cut -d@ -f1)
g layout assign -z dc1 -c 1G "$node" >/dev/null
g layout apply --version 1 >/dev/null
keyinfo=$(g key create strata-test)
key_id=$(echo "$keyinfo" | awk -F': *' '/Key ID/ {print $2; exit}')
secret=$(echo "$keyinfo" | awk -F': *' '/Secret key/ {print $2; exit}')
[ -n "$key_id" ] && [ -n "$secret" ] || { echo "cannot read the key from: $keyinfo"; exit 1; }
for bucket in conformance api replicas; do
  g bucket create "$bucket" >/dev/null
  g bucket allow --read --write --owner "$bucket" --key strata-test >/dev/null
done

export STRATA_TEST_S3_ENDPOINT="http://127.0.0.1:$s3"
export STRATA_TEST_S3_REGION=garage
export STRATA_TEST_S3_KEY_ID="$key_id"
export STRATA_TEST_S3_SECRET="$secret"
log="$work/test.log"
set +e
cargo test -p strata-server --locked s3 -- --nocapture 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "test-garage: $(grep -Eo '^test result: .*' "$log" | awk '{p+=$4; f+=$6} END {print p" passed, "f" failed"}')"
exit "$status"
