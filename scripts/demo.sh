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

echo
echo "== building a multi-stage image from a Dockerfile (daemonless, cache mount, COPY --from)"
if [ "$(id -u)" -eq 0 ]; then
  mkdir -p "$work/app"
  printf '#!/bin/sh\necho "Hello from an image built by WHO"\n' > "$work/app/hello.sh"
  cat > "$work/app/Dockerfile" <<'EOF'
FROM demo/busybox:1.35 AS build
WORKDIR /src
COPY hello.sh .
RUN --mount=type=cache,target=/cache sed 's/WHO/Strata/' hello.sh > /hello && chmod 755 /hello

FROM demo/busybox:1.35
COPY --from=build /hello /usr/bin/hello
CMD ["hello"]
EOF
  run build --progress=plain -t demo/hello:1 "$work/app"
  printf '\n(again: every step is cached)'
  run build -t demo/hello:1 "$work/app"
  run history demo/hello:1
  run run --rm demo/hello:1
else
  echo "(skipped: RUN needs root for overlayfs and namespaces)"
fi

echo
echo "== running the image: busybox httpd in a container, port 80 published on the host"
if [ "$(id -u)" -ne 0 ]; then
  echo "(skipped: containers need root for overlayfs and namespaces)"
  exit 0
fi
mkdir -p "$work/www"
echo "<h1>Hello from a Strata container</h1>" > "$work/www/index.html"
# Port 5000 unless something already listens there; then any free port.
port="${STRATA_DEMO_PORT:-5000}"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then port=""; fi
"$strata" rm -f demo-web >/dev/null 2>&1 || true
run run -d --rm --name demo-web -p "127.0.0.1:$port:80" -v "$work/www:/www:ro" demo/busybox:1.35 \
  httpd -f -p 80 -h /www
trap '"$strata" stop -t 1 demo-web >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
run ps
port="$("$strata" ps --format '{{.Names}} {{.Ports}}' | sed -n 's/^demo-web 127\.0\.0\.1:\([0-9]*\)->.*/\1/p')"
printf '\n$ curl http://127.0.0.1:%s/\n' "$port"
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/" && break
  sleep 0.1
done
run stop -t 1 demo-web
