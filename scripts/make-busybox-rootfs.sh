#!/usr/bin/env bash
# Makes a minimal busybox root filesystem in DIR from Debian's busybox-static
# (/bin/busybox plus one symlink per applet), for base images in the demo and tests.
set -euo pipefail
dir="${1:?usage: make-busybox-rootfs.sh DIR}"
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-busybox-rootfs: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var}
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$dir/$(dirname "$applet")"
  ln -sf /bin/busybox "$dir/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
echo "$dir"
