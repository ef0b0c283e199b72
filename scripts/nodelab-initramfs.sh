#!/usr/bin/env bash
# Builds the node boot lab's initramfs the Debian way: Vouch's initramfs-tools hook and boot script
# (packaging/) are installed into the lab's Debian 12 chroot (scripts/nodelab-assets.sh) where a
# package would put them, and the real mkinitramfs builds an image for the bookworm-backports
# kernel. Cached by the content of everything that goes in; prints the image's path.
#
#   nodelab-initramfs.sh [VOUCH_EXECUTABLE]   the vouch executable to install, or none (default)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
agent=${1:-none}
cache=$(bash "$repo/scripts/nodelab-assets.sh")
chroot=$cache/chroot
version=$(cat "$cache/kernel/version")

# The lab's initramfs configuration (mkinitramfs -d): only the modules listed and those hooks add,
# which keeps the image small for an emulated CPU; a real node keeps Debian's MODULES=most.
read -r -d '' conf <<EOF || true
MODULES=list
BUSYBOX=y
COMPRESS=zstd
RUNSIZE=10%
FSTYPE=auto
EOF
# The VM's disk and network card (virtio-pci itself is built in).
modules=$'virtio_blk\nvirtio_net'

key=$(
  {
    echo "$version" "$agent" "$conf" "$modules"
    cat "$0" "$repo/packaging/boot-functions.sh" "$repo/packaging/initramfs-tools/hooks/vouch" "$repo/packaging/initramfs-tools/scripts/vouch"
    [ "$agent" = none ] || cat "$agent"
  } | sha256sum | cut -c1-32
)
out=$cache/initramfs/$key.img
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi

exec 9>"$cache/.lock"
flock 9
if [ ! -f "$out" ]; then
  install -D -m 0755 "$repo/packaging/initramfs-tools/hooks/vouch" "$chroot/usr/share/initramfs-tools/hooks/vouch"
  install -D -m 0644 "$repo/packaging/initramfs-tools/scripts/vouch" "$chroot/usr/share/initramfs-tools/scripts/vouch"
  install -D -m 0644 "$repo/packaging/boot-functions.sh" "$chroot/usr/lib/vouch/boot-functions.sh"
  mkdir -p "$chroot/etc/vouch" "$chroot/etc/vouch-lab/initramfs-tools/scripts" "$cache/initramfs"
  if [ "$agent" = none ]; then
    rm -f "$chroot/usr/bin/vouch"
    echo 'VOUCH_EXECUTABLE=none' >"$chroot/etc/vouch/initramfs.conf"
  else
    install -m 0755 "$agent" "$chroot/usr/bin/vouch"
    echo 'VOUCH_EXECUTABLE=/usr/bin/vouch' >"$chroot/etc/vouch/initramfs.conf"
  fi
  echo "$conf" >"$chroot/etc/vouch-lab/initramfs-tools/initramfs.conf"
  echo "$modules" >"$chroot/etc/vouch-lab/initramfs-tools/modules"
  rm -f "$chroot/tmp/initrd.img"
  chroot "$chroot" mkinitramfs -d /etc/vouch-lab/initramfs-tools -o /tmp/initrd.img "$version" >&2
  mv "$chroot/tmp/initrd.img" "$out.tmp"
  mv "$out.tmp" "$out"
  # Each change of the executable or the packaging makes a new image: keep the six newest.
  ls -t "$cache/initramfs"/*.img | tail -n +7 | xargs -r rm -f
fi
echo "$out"
