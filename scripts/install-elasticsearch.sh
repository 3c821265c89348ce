#!/usr/bin/env bash
# Installs Elasticsearch (the integ-test zip from Maven Central) into a world-traversable
# machine-wide folder (ES runs as an unprivileged user and cannot reach /root).
# Prints ES_HOME. Idempotent.
. "$(dirname "$0")/lib.sh"
VERSION=${ES_VERSION:-8.19.21}
ROOTDIR=${SHARDLINE_OPT:-/opt/shardline}
DEST="$ROOTDIR/elasticsearch-$VERSION"

install() {
  require_java17
  if [ -x "$DEST/bin/elasticsearch" ]; then echo "$DEST"; return; fi
  need unzip "apt-get install unzip"
  mkdir -p "$ROOTDIR"; chmod 755 "$ROOTDIR"
  log "downloading Elasticsearch $VERSION (about 100 MB, once)"
  local tmp; tmp=$(mktemp -d "$ROOTDIR/.es.XXXX")
  mvn_copy "org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" "$tmp"
  unzip -q "$tmp/elasticsearch-$VERSION.zip" -d "$tmp"
  [ -x "$tmp/elasticsearch-$VERSION/bin/elasticsearch" ] || die "the Elasticsearch archive did not contain bin/elasticsearch"
  rm -rf "$DEST"; mv "$tmp/elasticsearch-$VERSION" "$DEST"; rm -rf "$tmp"
  chmod -R a+rX "$DEST"
  echo "$DEST"
}
with_lock elasticsearch install
