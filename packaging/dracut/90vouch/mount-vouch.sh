#!/bin/sh
# mount hook: the composefs root on $NEWROOT.
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh
. /usr/lib/vouch/boot-functions.sh

vouch_die() { die "vouch: $*"; }
vouch_log() { info "vouch: $*"; }

[ "$root" = vouch ] || return 0
ismounted "$NEWROOT" && return 0
vouch_parse_cmdline
vouch_mount_composefs "$NEWROOT"
vouch_log "composefs root $VOUCH_COMPOSEFS mounted"
