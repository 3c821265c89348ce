#!/usr/bin/env bash
# Installs MySQL 9.7 LTS from Debian sid's packages without installing them: the .debs and the
# shared libraries they need (sid's glibc included) are extracted into the cache and mysqld runs
# under sid's own dynamic loader. A private apt state is used: the system's apt sources and
# dpkg status are never touched. Prints the extracted root on stdout. Idempotent.
. "$(dirname "$0")/lib.sh"
DEST="$CACHE/mysql-9.7-sid"
APTDIR="$CACHE/apt-sid"

mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

install() {
  if [ -x "$DEST/usr/sbin/mysqld" ] && [ -f "$DEST/.complete" ]; then echo "$DEST"; return; fi
  need apt-get "a Debian-based system is needed for the native MySQL 9.7 path"
  need dpkg "a Debian-based system is needed for the native MySQL 9.7 path"
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/etc" "$APTDIR/state"
  touch "$APTDIR/state/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror) sid main" > "$APTDIR/etc/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$APTDIR/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache" -o "Dir::State::status=$APTDIR/state/status"
    -o APT::Architecture=amd64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  log "resolving MySQL 9.7 from Debian sid (private apt state in $APTDIR)"
  apt-get "${opts[@]}" -qq update >&2 || die "apt-get update for sid failed"
  local pkgs
  pkgs=$(apt-cache "${opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
           --no-breaks --no-replaces --no-enhances mysql-server-core 2>/dev/null \
         | grep -E '^[a-z0-9]' | grep -vE '^(debconf|perl|dpkg|mysql-common|adduser|init-system-helpers|lsb-base|passwd|libpam|coreutils|bash|sensible-utils|tar|base-files|.*-base$)' \
         | sort -u)
  echo "$pkgs" | grep -qx mysql-server-core || die "sid does not offer mysql-server-core any more"
  log "downloading $(echo "$pkgs" | wc -l) packages"
  local tmp; tmp=$(mktemp -d "$CACHE/.mysql97.XXXX")
  (cd "$APTDIR/cache/archives" && apt-get "${opts[@]}" -qq download $pkgs >&2) || die "downloading sid packages failed"
  for p in $pkgs; do
    local f; f=$(ls "$APTDIR/cache/archives/${p}_"*.deb 2>/dev/null | head -1)
    [ -n "$f" ] && dpkg -x "$f" "$tmp/root"
  done
  [ -x "$tmp/root/usr/sbin/mysqld" ] || die "mysqld missing after extracting sid packages"
  local L="$tmp/root/usr/lib/x86_64-linux-gnu"
  "$L/ld-linux-x86-64.so.2" --library-path "$L" "$tmp/root/usr/sbin/mysqld" --version >&2 \
    || die "the extracted MySQL 9.7 does not run on this machine"
  rm -rf "$DEST"; mv "$tmp/root" "$DEST"; rm -rf "$tmp"
  rm -f "$APTDIR"/cache/archives/*.deb
  touch "$DEST/.complete"
  echo "$DEST"
}
with_lock mysql97 install
