#!/bin/sh
# pre-mount hook: the network is up (rd.neednet=1); attest and unlock before the root is mounted.
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh
. /usr/lib/vouch/boot-functions.sh

vouch_die() { die "vouch: $*"; }
vouch_log() { info "vouch: $*"; }

[ "$root" = vouch ] || return 0
# shellcheck disable=SC1091
[ -f /etc/vouch/initramfs.conf ] && . /etc/vouch/initramfs.conf
vouch_parse_cmdline
vouch_log "boot=vouch composefs=$VOUCH_COMPOSEFS${VOUCH_SERVER:+ server=$VOUCH_SERVER}"
[ -z "$VOUCH_SERVER" ] || vouch_unlock
