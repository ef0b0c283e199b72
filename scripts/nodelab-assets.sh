#!/usr/bin/env bash
# Fetches what the node boot lab (test/node-lab) boots and builds its initramfs with, none of which
# the host installs: from Debian's bookworm-backports suite the Linux 6.12 kernel image with its
# modules (overlayfs verity= and lowerdir+/datadir+ need 6.6 or later; bookworm's 6.1 has neither)
# and systemd-boot-efi 254's UKI stub, downloaded and unpacked, never installed into /boot or
# /lib/modules; and a Debian 12 chroot made by debootstrap holding initramfs-tools, cryptsetup and
# the backports kernel's modules, in which scripts/nodelab-initramfs.sh runs the real mkinitramfs.
# Idempotent and cached; prints the cache directory. Needs root (debootstrap) and the backports
# suite in the apt lists (scripts/install-deps.sh adds it).
#
#   VOUCH_NODELAB_CACHE  where to keep it (default /var/cache/vouch-nodelab)
#   VOUCH_DEBIAN_MIRROR  the mirror debootstrap reads (default http://deb.debian.org/debian)
set -euo pipefail
cache=${VOUCH_NODELAB_CACHE:-/var/cache/vouch-nodelab}
mirror=${VOUCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the chroot holds: mkinitramfs and its tools (busybox for the initramfs shell, zstd for its
# compression), cryptsetup for the LUKS2 volume, fsverity to check the composefs image's digest.
chroot_packages=initramfs-tools,busybox,zstd,kmod,cryptsetup-bin,fsverity

[ "$(id -u)" = 0 ] || { echo "scripts/nodelab-assets.sh needs root (debootstrap, chroot)" >&2; exit 1; }
mkdir -p "$cache"
# One builder at a time: parallel test runs or install-deps would otherwise fetch into the same files.
exec 9>"$cache/.lock"
flock 9

if [ ! -f "$cache/kernel/vmlinuz" ] || [ ! -f "$cache/kernel/config" ] || [ ! -f "$cache/stub/linuxx64.efi.stub" ]; then
  # The backports kernel the linux-image-amd64 meta-package points at (its signed build: the
  # embedded signature is irrelevant, the UKI around it is what the firmware verifies).
  kernel_pkg=$(apt-cache depends linux-image-amd64/bookworm-backports 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-6\.[0-9.+a-z0-9-]*-amd64\)$/\1/p' | head -1)
  [ -n "$kernel_pkg" ] || {
    echo "no bookworm-backports kernel in the apt lists: add the suite (scripts/install-deps.sh does) and run apt-get update" >&2
    exit 1
  }
  work=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  chmod 755 "$work" # apt-get download drops root for the _apt user
  (cd "$work" && apt-get download -q "$kernel_pkg" "systemd-boot-efi/bookworm-backports" >&2)
  dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
  dpkg-deb -x "$work"/systemd-boot-efi_*.deb "$work/stub"
  rm -rf "$cache/kernel" "$cache/stub"
  mkdir -p "$cache/kernel" "$cache/stub"
  version=$(ls "$work/kernel/lib/modules")
  mv "$work/kernel/lib/modules/$version" "$cache/kernel/modules"
  cp "$work"/kernel/boot/vmlinuz-* "$cache/kernel/vmlinuz"
  # mkinitramfs reads the kernel's configuration to pick a compression the kernel can unpack.
  cp "$work"/kernel/boot/config-* "$cache/kernel/config"
  cp "$work/stub/usr/lib/systemd/boot/efi/linuxx64.efi.stub" "$cache/stub/linuxx64.efi.stub"
  echo "$version" >"$cache/kernel/version"
  dpkg-deb -f "$work"/systemd-boot-efi_*.deb Version >"$cache/stub/version"
  rm -rf "$work"
  trap - EXIT
fi

version=$(cat "$cache/kernel/version")
stamp="$cache/chroot/.vouch-ready"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$chroot_packages $version" ]; then
  rm -rf "$cache/chroot" "$cache/.chroot.tmp"
  debootstrap --variant=minbase --include="$chroot_packages" bookworm "$cache/.chroot.tmp" "$mirror" >&2
  # The kernel's modules where mkinitramfs looks for them, then their dependency index.
  mkdir -p "$cache/.chroot.tmp/lib/modules"
  cp -a "$cache/kernel/modules" "$cache/.chroot.tmp/lib/modules/$version"
  chroot "$cache/.chroot.tmp" depmod "$version"
  rm -rf "$cache/.chroot.tmp/var/cache/apt/archives/"*.deb
  echo "$chroot_packages $version" >"$cache/.chroot.tmp/.vouch-ready"
  mv "$cache/.chroot.tmp" "$cache/chroot"
fi
[ -f "$cache/chroot/boot/config-$version" ] || cp "$cache/kernel/config" "$cache/chroot/boot/config-$version"
echo "$cache"
