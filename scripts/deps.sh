#!/usr/bin/env bash
# Installs what Strata's demo and tests need on a Debian machine, only where missing.
#   scripts/deps.sh demo   busybox-static (the demo's base image)
#   scripts/deps.sh test   + skopeo, umoci, podman, docker.io (interop), docker-registry, jq,
#                          openssl, curl, python3 moto (S3 tests)
set -euo pipefail

need_apt=()
want() { dpkg -s "$1" >/dev/null 2>&1 || need_apt+=("$1"); }

case "${1:-test}" in
  demo) want busybox-static; want ca-certificates; want iproute2; want iptables; want curl ;;
  test)
    want busybox-static; want skopeo; want umoci; want jq; want python3-pip; want python3-venv
    # iproute2 sets up container networks (bridge, veth pairs); iptables adds their NAT.
    want iproute2; want iptables
    # distribution 2.8, the reference registry the client tests run against; openssl and curl
    # for the TLS tests of `strata serve`.
    want docker-registry; want openssl; want curl
    # Podman and Docker push to and pull from `strata serve` in the interop tests.
    want podman; want docker.io
    # The web page of `strata serve` is checked in headless Chromium.
    want chromium
    # debootstrap makes the Debian minbase image of the insight tests (cached under ~/.cache).
    want debootstrap
    ;;
  *) echo "usage: scripts/deps.sh demo|test" >&2; exit 2 ;;
esac

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "deps: installing ${need_apt[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  for d in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
    [ -x "$d/cargo" ] && export PATH="$d:$PATH"
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: no Rust toolchain found. Strata needs Rust 1.85 or newer (edition 2024): install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi

if [ "${1:-test}" = test ]; then
  # moto provides an S3-compatible server on 127.0.0.1 for the object-storage backend tests.
  venv="${STRATA_TEST_VENV:-$HOME/.cache/strata-test-venv}"
  if [ ! -x "$venv/bin/moto_server" ]; then
    echo "deps: installing moto[server] into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q 'moto[server]' >&2
  fi
  # The SPDX project's validator and the official CycloneDX JSON schemas check `strata sbom`.
  if [ ! -x "$venv/bin/pyspdxtools" ] || ! compgen -G "$venv/lib/python3*/site-packages/cyclonedx/schema/_res/bom-1.5.SNAPSHOT.schema.json" >/dev/null; then
    echo "deps: installing spdx-tools and cyclonedx-python-lib into $venv" >&2
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q spdx-tools cyclonedx-python-lib >&2
  fi
fi
