#!/bin/bash
# dracut module for Vouch nodes, the counterpart of packaging/initramfs-tools: attests to the Vouch
# server and unlocks the node's LUKS2 volume before the root is mounted, then mounts the composefs
# root named by composefs= (EROFS + overlayfs with verity=require over the object store). Install
# it as /usr/lib/dracut/modules.d/90vouch, with boot-functions.sh as /usr/lib/vouch/boot-functions.sh;
# configured by /etc/vouch/initramfs.conf like the initramfs-tools hook (VOUCH_EXECUTABLE,
# VOUCH_SERVER_CA).

check() {
	# Only when asked for (dracut -a vouch, or add_dracutmodules+=" vouch " in dracut.conf.d).
	return 255
}

depends() {
	# network: ip=dhcp before unlock; crypt: device-mapper and the dm-crypt module.
	echo network crypt
}

installkernel() {
	instmods ext4 loop erofs overlay dm_crypt tpm_tis tpm_crb
}

install() {
	VOUCH_EXECUTABLE=/usr/bin/vouch
	VOUCH_SERVER_CA=/etc/vouch/server-ca.pem
	# shellcheck disable=SC1091
	[ -r /etc/vouch/initramfs.conf ] && . /etc/vouch/initramfs.conf
	if [ "$VOUCH_EXECUTABLE" != none ]; then
		if [ ! -x "$VOUCH_EXECUTABLE" ]; then
			derror "vouch: VOUCH_EXECUTABLE=$VOUCH_EXECUTABLE is not an executable file (set it in /etc/vouch/initramfs.conf, or to none)"
			return 1
		fi
		# inst_binary: with the shared libraries it links (libstdc++ for the Node runtime).
		inst_binary "$VOUCH_EXECUTABLE" /usr/bin/vouch
		inst_multiple cryptsetup blkid
		[ -f "$VOUCH_SERVER_CA" ] && inst_simple "$VOUCH_SERVER_CA" /etc/vouch/server-ca.pem
	fi
	inst_multiple fsverity modprobe mount tr cat sleep grep
	inst_simple /usr/lib/vouch/boot-functions.sh
	[ -r /etc/vouch/initramfs.conf ] && inst_simple /etc/vouch/initramfs.conf
	inst_hook cmdline 90 "$moddir/parse-vouch.sh"
	inst_hook pre-mount 50 "$moddir/vouch-unlock.sh"
	inst_hook mount 90 "$moddir/mount-vouch.sh"
}
