#!/bin/sh
# cmdline hook: composefs= makes the composefs root this boot's root (no root= device), and
# vouch.server= needs the network (ip= as usual) before pre-mount, where the volume is unlocked.
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh

if [ -z "$root" ] && getarg composefs= >/dev/null; then
	root=vouch
	rootok=1
	# The mount hook mounts the overlay; nothing for systemd-fstab-generator to wait for.
	export root rootok
fi
if getarg vouch.server= >/dev/null; then
	echo 'rd.neednet=1' >/etc/cmdline.d/90vouch-net.conf
fi
