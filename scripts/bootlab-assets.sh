#!/usr/bin/env bash
# Fetches what the real boot lab (test/predict/bootlab.test.ts) boots but Debian does not install
# for us: a Debian 6.1 kernel image, unpacked into a cache directory (never into /boot, so the
# machine's own boot is untouched). Idempotent: prints the cache directory and exits when done.
#
#   VOUCH_BOOTLAB_CACHE  where to keep it (default /var/cache/vouch-bootlab as root, else
#                        ~/.cache/vouch-bootlab)
set -euo pipefail
if [ "$(id -u)" = 0 ]; then default=/var/cache/vouch-bootlab; else default=${XDG_CACHE_HOME:-$HOME/.cache}/vouch-bootlab; fi
cache=${VOUCH_BOOTLAB_CACHE:-$default}
mkdir -p "$cache"
if [ -f "$cache/vmlinuz" ]; then echo "$cache"; exit 0; fi

# The newest Debian 12 kernel ABI the archive offers (signed build: its embedded signature is
# irrelevant here, the UKI around it is what the firmware verifies).
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | cut -d' ' -f1 | sort -V | tail -1)
[ -n "$pkg" ] || { echo "no linux-image-6.1.0-*-amd64 in the apt lists (apt-get update?)" >&2; exit 1; }
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "$pkg" >&2)
dpkg-deb -x "$work"/*.deb "$work/root"
cp "$work"/root/boot/vmlinuz-* "$cache/vmlinuz.tmp"
echo "$pkg" > "$cache/kernel-package"
mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
echo "$cache"
