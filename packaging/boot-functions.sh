# Vouch's early-boot steps, shared by the initramfs-tools boot script (scripts/vouch) and the dracut
# module (90vouch): read the kernel command line, find devices, unlock the node's LUKS2 volume with
# the key the Vouch server releases after attestation, and mount the composefs root. POSIX sh
# (busybox ash in initramfs-tools, bash in dracut). Installed as /usr/lib/vouch/boot-functions.sh;
# the callers provide vouch_die (stop the boot with a message) and vouch_log.
#
# Kernel command line (everything but composefs= has a default, so the measured line stays short):
#   composefs=HEX          SHA-256 fs-verity digest of the root's EROFS image (required)
#   vouch.store=DEV        file system holding objects/ and images/ (default PARTLABEL=vouch-store)
#   vouch.server=URL       the Vouch server; when given, the node attests and unlocks its volume
#   vouch.luks=DEV         the node's LUKS2 volume (default PARTLABEL=vouch-state)
#   vouch.luks-name=NAME   its device-mapper name (default vouch-state)
# DEV is a path or LABEL=, UUID=, PARTLABEL=, PARTUUID=.

VOUCH_RUN=/run/vouch
VOUCH_STORE_MNT=$VOUCH_RUN/store
VOUCH_IMAGE_MNT=$VOUCH_RUN/image

# vouch_parse_cmdline [FILE]: sets VOUCH_COMPOSEFS, VOUCH_STORE, VOUCH_SERVER, VOUCH_LUKS, VOUCH_LUKS_NAME.
vouch_parse_cmdline() {
	VOUCH_COMPOSEFS=
	VOUCH_STORE=PARTLABEL=vouch-store
	VOUCH_SERVER=
	VOUCH_LUKS=PARTLABEL=vouch-state
	VOUCH_LUKS_NAME=vouch-state
	# shellcheck disable=SC2013 # words, not lines
	for arg in $(cat "${1:-/proc/cmdline}"); do
		case "$arg" in
		composefs=*) VOUCH_COMPOSEFS=${arg#composefs=} ;;
		vouch.store=*) VOUCH_STORE=${arg#vouch.store=} ;;
		vouch.server=*) VOUCH_SERVER=${arg#vouch.server=} ;;
		vouch.luks=*) VOUCH_LUKS=${arg#vouch.luks=} ;;
		vouch.luks-name=*) VOUCH_LUKS_NAME=${arg#vouch.luks-name=} ;;
		esac
	done
	# The digest names a file below images/ and is compared with the kernel's: only 64 hex digits.
	case "$VOUCH_COMPOSEFS" in
	'') vouch_die "no composefs=<digest> on the kernel command line: this boot names no root image" ;;
	*[!0-9a-f]*) vouch_die "composefs=$VOUCH_COMPOSEFS is not a lower-case hex SHA-256 digest" ;;
	esac
	[ ${#VOUCH_COMPOSEFS} -eq 64 ] || vouch_die "composefs=$VOUCH_COMPOSEFS is not a SHA-256 digest (64 hex digits)"
}

# vouch_wait_device SPEC [SECONDS]: prints the device node SPEC names once it exists (udev makes
# the /dev/disk links); gives up after SECONDS (default 30) so a missing disk stops the boot.
vouch_wait_device() {
	spec=$1
	tries=$((${2:-30} * 10))
	while [ "$tries" -gt 0 ]; do
		case "$spec" in
		LABEL=* | UUID=* | PARTLABEL=* | PARTUUID=*)
			kind=$(echo "${spec%%=*}" | tr 'A-Z' 'a-z')
			dev=/dev/disk/by-$kind/${spec#*=}
			;;
		*) dev=$spec ;;
		esac
		if [ -b "$dev" ]; then
			echo "$dev"
			return 0
		fi
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# vouch_mount_store: mounts the file system holding objects/, images/ and the agent's state on
# VOUCH_STORE_MNT (once). The objects and images are immutable (fs-verity); the agent's AK blobs
# under agent/ are wrapped by the TPM.
vouch_mount_store() {
	grep -q " $VOUCH_STORE_MNT " /proc/mounts && return 0
	modprobe -q ext4 || true
	store_dev=$(vouch_wait_device "$VOUCH_STORE") || vouch_die "the object store $VOUCH_STORE did not appear"
	mkdir -p "$VOUCH_STORE_MNT"
	mount -t ext4 -o nodev,nosuid "$store_dev" "$VOUCH_STORE_MNT" || vouch_die "cannot mount the object store $store_dev"
}

# vouch_node_name: the name the node enrolls under: the host name DHCP gave (initramfs-tools:
# $HOSTNAME from ipconfig's /run/net-*.conf; dracut: the kernel's host name), lower-cased, else
# node-<MAC address of the first network card>.
vouch_node_name() {
	# shellcheck disable=SC3028 # HOSTNAME comes from ipconfig's /run/net-*.conf, not from the shell
	name=${HOSTNAME:-$(cat /proc/sys/kernel/hostname 2>/dev/null)}
	# shellcheck disable=SC2018,SC2019 # host names are ASCII
	name=$(echo "$name" | tr 'A-Z' 'a-z')
	case "$name" in '' | '(none)' | localhost | *[!a-z0-9.-]* | [.-]* | *[.-]) name= ;; esac
	if [ -z "$name" ]; then
		for n in "${VOUCH_SYSFS:-/sys}"/class/net/*; do
			[ "${n##*/}" = lo ] || [ ! -r "$n/address" ] && continue
			name=node-$(tr -d : <"$n/address")
			break
		done
	fi
	[ -n "$name" ] || vouch_die "no host name from DHCP and no network card: this node has no name to enroll under"
	echo "$name"
}

# vouch_unlock: enrolls with VOUCH_SERVER on the node's first boot, attests and opens the LUKS2
# volume as /dev/mapper/VOUCH_LUKS_NAME with the released key (formatting a blank volume on the
# first boot). The agent keeps its AK blobs and node record in agent/ on the store, which is
# unencrypted: the blobs are wrapped by the TPM and useless elsewhere. The key never touches a
# file: the agent hands it to cryptsetup on stdin. Needs the network up.
vouch_unlock() {
	[ -x /usr/bin/vouch ] || vouch_die "vouch.server= is set but this initramfs holds no vouch executable (VOUCH_EXECUTABLE in /etc/vouch/initramfs.conf)"
	vouch_mount_store
	luks_dev=$(vouch_wait_device "$VOUCH_LUKS") || vouch_die "the node's volume $VOUCH_LUKS did not appear"
	# The agent reads the firmware's event log from securityfs and quotes through the kernel's
	# TPM resource manager.
	grep -q ' /sys/kernel/security ' /proc/mounts || mount -t securityfs securityfs /sys/kernel/security ||
		vouch_die "cannot mount securityfs on /sys/kernel/security (the agent reads the TPM event log there)"
	[ -c /dev/tpmrm0 ] || vouch_die "no /dev/tpmrm0: this node has no TPM 2.0, or its driver is missing from the initramfs"
	name=$(vouch_node_name)
	set -- --server "$VOUCH_SERVER" --state "$VOUCH_STORE_MNT/agent"
	[ -f /etc/vouch/server-ca.pem ] && set -- "$@" --server-ca /etc/vouch/server-ca.pem
	# Enrolling is a no-op once the state directory holds the node's enrollment.
	vouch_log "enrolling as $name with $VOUCH_SERVER (once per node)"
	/usr/bin/vouch agent enroll --hostname "$name" "$@" || vouch_die "enrollment with $VOUCH_SERVER failed (above): the volume stays locked"
	vouch_log "attesting to $VOUCH_SERVER to unlock $luks_dev"
	/usr/bin/vouch agent unlock "$@" --luks "$luks_dev" --name "$VOUCH_LUKS_NAME" --format-if-blank ||
		vouch_die "attestation to $VOUCH_SERVER did not release the key (above): the volume stays locked"
	vouch_log "$luks_dev unlocked as /dev/mapper/$VOUCH_LUKS_NAME"
}

# vouch_mount_composefs TARGET: mounts the store, checks that the image's fs-verity digest is the
# measured composefs= digest, and mounts the root at TARGET: the EROFS image as overlayfs' metadata
# layer over the object store as its data-only layer, with verity=require, so every file's content
# must carry fs-verity and match the digest the image records (Linux 6.6 or later).
vouch_mount_composefs() {
	target=$1
	for m in loop erofs overlay; do modprobe -q "$m" || true; done
	vouch_mount_store
	mkdir -p "$VOUCH_IMAGE_MNT"
	image=$VOUCH_STORE_MNT/images/$VOUCH_COMPOSEFS.cfs
	[ -f "$image" ] || vouch_die "no root image $image on $VOUCH_STORE"
	# The image is pinned by fs-verity: the kernel reports the digest of what it will read, and a
	# file without fs-verity has none, so an image swapped or edited on disk cannot be mounted.
	measured=$(fsverity measure "$image" 2>/dev/null) || vouch_die "the root image $image has no fs-verity digest"
	measured=${measured%% *}
	[ "$measured" = "sha256:$VOUCH_COMPOSEFS" ] || vouch_die "the root image's fs-verity digest is $measured, the kernel command line pins sha256:$VOUCH_COMPOSEFS"
	mount -t erofs -o ro,loop "$image" "$VOUCH_IMAGE_MNT" || vouch_die "cannot mount the EROFS image $image"
	mount -t overlay -o "ro,lowerdir+=$VOUCH_IMAGE_MNT,datadir+=$VOUCH_STORE_MNT/objects,metacopy=on,redirect_dir=on,verity=require" overlay "$target" ||
		vouch_die "cannot mount the composefs root (overlayfs with verity=require needs Linux 6.6 or later)"
}
