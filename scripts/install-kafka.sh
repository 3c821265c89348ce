#!/usr/bin/env bash
# Installs Kafka (KRaft) jars from Maven Central into the cache. Prints the folder holding libs/.
. "$(dirname "$0")/lib.sh"
VERSION=${KAFKA_VERSION:-4.1.2}
DEST="$CACHE/kafka-$VERSION"

install() {
  require_java17
  if [ -f "$DEST/.complete" ]; then echo "$DEST"; return; fi
  log "downloading Kafka $VERSION jars (about 45 MB, once)"
  local tmp; tmp=$(mktemp -d "$CACHE/.kafka.XXXX")
  cat > "$tmp/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.shardline</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.25.3</version></dependency>
  </dependencies>
</project>
POM
  (cd "$tmp" && mvn -B -q dependency:copy-dependencies -DoutputDirectory=libs >&2) || die "could not fetch Kafka $VERSION from Maven Central"
  ls "$tmp"/libs/kafka_2.13-*.jar >/dev/null 2>&1 || die "Kafka jars missing after download"
  rm -rf "$DEST"; mkdir -p "$DEST"; mv "$tmp/libs" "$DEST/libs"; rm -rf "$tmp"
  touch "$DEST/.complete"
  echo "$DEST"
}
with_lock kafka install
