#!/usr/bin/env bash
# Installs Prometheus and promtool from Debian's `prometheus` package when they are missing.
# Prints the folder holding both binaries. The package's system service is never started for us:
# on a host running systemd, a temporary policy-rc.d keeps the install from starting it.
. "$(dirname "$0")/lib.sh"

find_bins() {
  local p t
  p=$(command -v prometheus 2>/dev/null || true)
  t=$(command -v promtool 2>/dev/null || true)
  [ -n "$p" ] && [ -n "$t" ] && [ "$(dirname "$p")" = "$(dirname "$t")" ] && dirname "$p"
}

install() {
  local dir
  if dir=$(find_bins); then echo "$dir"; return; fi
  command -v apt-get >/dev/null 2>&1 || die "prometheus and promtool are not on PATH and there is no apt-get: install Prometheus 2.x yourself"
  [ "$(id -u)" = 0 ] || die "prometheus is not installed: run as root, or apt-get install prometheus"
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ] && [ -d /run/systemd/system ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' > "$guard"; chmod 755 "$guard"
    trap 'rm -f "$guard"' EXIT
  fi
  log "installing Debian's prometheus package (once)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends prometheus >&2; then
    log "not found in the package lists: apt-get update, then again"
    apt-get update -q >&2 || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends prometheus >&2 || die "apt-get install prometheus failed"
  fi
  dir=$(find_bins) || die "prometheus or promtool still missing after the install"
  echo "$dir"
}
with_lock prometheus install
