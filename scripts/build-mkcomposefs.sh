#!/usr/bin/env bash
# Builds composefs's own mkcomposefs and composefs-info, the reference the composefs tests and
# benchmarks compare Vouch against. Debian 12 does not package composefs, so this takes Debian's
# source package `composefs` from unstable (through apt, from the Debian archive this machine's apt
# already uses, with a private apt state: nothing is installed and the system's sources stay as they
# are) and builds it with meson into a cache directory; the package's real-world image dumps
# (tests/assets: CentOS Stream 9, Fedora 36, with the sha256 of the image mkcomposefs makes of each)
# are kept beside it, in assets/. Idempotent: prints the bin directory and exits when both are there.
#
#   VOUCH_COMPOSEFS_PEER  where to keep it (default /var/cache/vouch-composefs as root, else
#                         ~/.cache/vouch-composefs)
#   --where               print the bin directory without building (the test helper asks this)
#
# Build needs: meson ninja-build pkg-config gcc libssl-dev dpkg-dev (scripts/install-deps.sh).
set -euo pipefail
if [ "$(id -u)" = 0 ]; then default=/var/cache/vouch-composefs; else default=${XDG_CACHE_HOME:-$HOME/.cache}/vouch-composefs; fi
cache=${VOUCH_COMPOSEFS_PEER:-$default}
if [ "${1:-}" = --where ]; then echo "$cache/bin"; exit 0; fi
if [ -x "$cache/bin/mkcomposefs" ] && [ -x "$cache/bin/composefs-info" ] && [ -f "$cache/assets/cs9-x86_64-developer.dump.gz.sha256" ]; then echo "$cache/bin"; exit 0; fi
mkdir -p "$cache"

# The Debian archive the machine's apt fetches its own release's main component from.
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
archive=$(apt-cache policy | awk -v s="$codename/main" '$3 == s && $4 == "amd64" { print $2; exit }')
[ -n "$archive" ] || { echo "no $codename/main source in apt's lists (run apt-get update)" >&2; exit 1; }

work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/apt-cache/archives/partial" "$work/src"
cat > "$work/composefs.sources" <<EOF
Types: deb-src
URIs: $archive
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_private=(
  -o "Dir::Etc::sourcelist=$work/composefs.sources" -o Dir::Etc::sourceparts=/nonexistent
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/apt-cache" -o Dir::State::status=/dev/null
  -o APT::Sandbox::User="$(id -un)" -o Debug::NoLocking=1
)
apt-get -q "${apt_private[@]}" update >&2
# The downloaded .dsc is checked against the signed Sources index and dpkg-source checks every
# tarball against the .dsc.
(cd "$work/src" && apt-get -q "${apt_private[@]}" source --download-only composefs >&2)
dsc=$(ls "$work"/src/composefs_*.dsc)
dpkg-source -x "$dsc" "$work/composefs" >&2

# The tools find the library they were built with wherever the cache is.
LDFLAGS="-Wl,-rpath,$cache/lib/x86_64-linux-gnu:$cache/lib" \
  meson setup "$work/build" "$work/composefs" --prefix "$cache" -Dman=disabled -Dfuse=disabled >&2
meson compile -C "$work/build" >&2
meson install -C "$work/build" --no-rebuild >&2
basename "$dsc" .dsc > "$cache/source-package"
rm -rf "$cache/assets" "$cache/assets.tmp"
mkdir -p "$cache/assets.tmp"
for dump in "$work"/composefs/tests/assets/*.dump.gz; do cp "$dump" "$dump.sha256" "$cache/assets.tmp/"; done
mv "$cache/assets.tmp" "$cache/assets"
# A one-line dump through both tools: the build runs where it is installed.
printf '/ 0 40755 2 0 0 0 0.0 - - -\n' | "$cache/bin/mkcomposefs" --from-file - "$work/check.cfs" >&2
"$cache/bin/composefs-info" dump "$work/check.cfs" >/dev/null
echo "$cache/bin"
