#!/usr/bin/env bash
# Installs what Vouch's demo and tests use, idempotently: Debian peers (when root and apt exists)
# and the npm dependencies (npm ci, skipped when node_modules already matches package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the tests cross-check against, and what the boot lab boots.
DEBIAN_PACKAGES=(
  swtpm swtpm-tools tpm2-tools openssl
  sbsigntool fsverity erofs-utils attr binutils
  efitools osslsigncode
  ovmf qemu-system-x86 busybox-static cpio
  shim-signed grub-efi-amd64-signed systemd-boot-efi
  cryptsetup clevis postgresql softhsm2
  chromium
  binutils          # strip, for the single executable (make executable)
  meson ninja-build pkg-config gcc libssl-dev dpkg-dev   # mkcomposefs, built from Debian's source package as the composefs tests' reference
)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The boot lab's Debian kernel (unpacked into a cache, never installed into /boot).
  bash scripts/bootlab-assets.sh >/dev/null
  # composefs's own mkcomposefs and composefs-info, built from Debian's source package (with the
  # build tools above): the peer the composefs tests and benchmarks compare against.
  bash scripts/build-mkcomposefs.sh >/dev/null
else
  echo "not root (or no apt-get): skipping Debian packages; tests needing missing peers will say so" >&2
fi

stamp=node_modules/.vouch-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x node_modules/.bin/node ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
