#!/usr/bin/env bash
# `strata build` against BuildKit on the peers fixture (../shared/peers), in the same run:
# cold build (empty store and cache; the base is pulled from the peers' registry on
# 127.0.0.1:5000 by both), warm no-op rebuild, one context file changed; plus the image size
# and the builder's peak RSS; push to and pull from the harness's registry on 127.0.0.1:5001
# (against the peers' `skopeo copy` push and native pull). Results: $PEERS/results/<stamp>/summary.md.
#   bench/build.sh                 strata and docker-bk
#   N_COLD=5 N_WARM=10 bench/build.sh
#   PEER_SET="custom" bench/build.sh   strata alone (no dockerd needed)
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS_HOME="${PEERS_HOME:-$(cd ../shared/peers 2>/dev/null && pwd || echo /work/shared/peers)}"
[ -x "$PEERS_HOME/bench.sh" ] || { echo "peers harness not found at $PEERS_HOME" >&2; exit 1; }

cargo build --release --locked -p strata
strata="$PWD/target/release/strata"
export STRATA_ROOT="${STRATA_BENCH_ROOT:-/tmp/strata-bench-root}"

"$PEERS_HOME/setup.sh"
export CUSTOM_BUILD="$strata build -q -t fixture:\$TAG . >/dev/null"
export CUSTOM_RESET="rm -rf $STRATA_ROOT"
export CUSTOM_SIZE="$strata inspect -f '{{.Size}} {{len .RootFS.Layers}}' fixture:\$TAG"
export CUSTOM_CLI="$strata history fixture:\$TAG >/dev/null"
# Push and pull against the harness's scratch registry (Debian's docker-registry on :5001),
# measured like the peers' `skopeo copy` push and native pull; the pull goes into an empty
# store of its own.
export CUSTOM_PUSH="$strata push -q fixture:\$TAG 127.0.0.1:5001/fixture:\$TAG >/dev/null"
export CUSTOM_PULL="STRATA_ROOT=$STRATA_ROOT-pull $strata pull -q 127.0.0.1:5001/fixture:\$TAG >/dev/null"
export CUSTOM_PULL_RESET="rm -rf $STRATA_ROOT-pull"
export N_COLD="${N_COLD:-3}" N_WARM="${N_WARM:-5}" N_CHANGE="${N_CHANGE:-5}"
export N_PUSH="${N_PUSH:-5}" N_PULL="${N_PULL:-5}" N_CLI="${N_CLI:-3}"
# shellcheck disable=SC2086
"$PEERS_HOME/bench.sh" ${PEER_SET:-custom docker-bk}
