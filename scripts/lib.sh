# Shared helpers for the native (no Docker) local cluster install scripts.
# Downloads go to a machine-wide cache reused across checkouts:
#   SHARDLINE_CACHE (default ~/.cache/shardline) and Maven's own ~/.m2.
set -euo pipefail

CACHE="${SHARDLINE_CACHE:-$HOME/.cache/shardline}"
mkdir -p "$CACHE"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"
}

java_major() {
  local v
  v=$("${1:-java}" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  echo "${v%%.*}"
}

# Exit code 3 means "Java missing or too old" (the CLI reports it as DEV_JAVA_MISSING).
require_java17() {
  if ! command -v java >/dev/null 2>&1; then
    printf '[%s] error: Java 17 or newer is required and no java is on PATH (Debian: apt-get install openjdk-17-jre-headless)\n' "$(basename "$0" .sh)" >&2
    exit 3
  fi
  local m
  m=$(java_major java)
  if [ -z "$m" ] || [ "$m" -lt 17 ]; then
    printf '[%s] error: Java 17 or newer is required, found Java %s at %s\n' "$(basename "$0" .sh)" "${m:-unknown}" "$(command -v java)" >&2
    exit 3
  fi
}

# mvn_copy GROUP:ARTIFACT:VERSION[:TYPE] DEST — fetch one artifact through Maven's cache.
mvn_copy() {
  need mvn "install Apache Maven (Debian: apt-get install maven)"
  mvn -B -q dependency:copy -Dartifact="$1" -DoutputDirectory="$2" >&2 \
    || die "could not fetch $1 from Maven Central"
}

# Serialise concurrent installs of the same component.
with_lock() {
  local name=$1; shift
  exec 9>"$CACHE/.$name.lock"
  flock 9
  "$@"
}
