#!/bin/sh
# docker-compose.yml's one-shot `replica-setup` service: points each read replica at its shard
# instance (GTID auto-positioning) and starts replication, once. Idempotent: a replica that
# already has a source only gets its threads started. Nothing is written on a replica (a local
# write would be an errant GTID): the accounts reach it by replication from its primary.
# The native path does the same in src/devcluster/replica-setup.ts.
set -eu

REPL_USER=${SHARDLINE_REPL_USER:-shardline_repl}
REPL_PASSWORD=${SHARDLINE_REPL_PASSWORD:-shardline}

sql() { mariadb -h "$1" -P 3306 -uroot --batch --skip-column-names -e "$2"; }
replica_status() { mariadb -h "$1" -P 3306 -uroot --batch -e 'SHOW REPLICA STATUS\G'; }
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }

# primary replica flavour
setup() {
  primary=$1 replica=$2 flavour=$3
  if [ "$flavour" = mysql ]; then
    grants='REPLICATION SLAVE, REPLICATION CLIENT, SELECT, RELOAD, BACKUP_ADMIN'
  else
    grants='REPLICATION SLAVE, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT, RELOAD'
  fi
  # the replication account (`shardline dev up --docker` sets the same again with the config's values)
  sql "$primary" "CREATE USER IF NOT EXISTS $(quote "$REPL_USER")@'%' IDENTIFIED BY $(quote "$REPL_PASSWORD"); GRANT $grants ON *.* TO $(quote "$REPL_USER")@'%'"
  if [ -z "$(sql "$replica" 'SHOW REPLICA STATUS')" ]; then
    if [ "$flavour" = mysql ]; then
      # TLS to the source (the images make their own certificates): no RSA key exchange for caching_sha2_password
      sql "$replica" "CHANGE REPLICATION SOURCE TO SOURCE_HOST='$primary', SOURCE_PORT=3306, SOURCE_USER=$(quote "$REPL_USER"), SOURCE_PASSWORD=$(quote "$REPL_PASSWORD"), SOURCE_AUTO_POSITION=1, SOURCE_SSL=1, SOURCE_CONNECT_RETRY=2"
    else
      sql "$replica" "CHANGE MASTER TO MASTER_HOST='$primary', MASTER_PORT=3306, MASTER_USER=$(quote "$REPL_USER"), MASTER_PASSWORD=$(quote "$REPL_PASSWORD"), MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=2"
    fi
  fi
  if [ "$flavour" = mysql ]; then
    sql "$replica" 'START REPLICA'
    # not on the command line: the image's first-run initialisation writes as root
    sql "$replica" 'SET PERSIST super_read_only = ON'
  else
    sql "$replica" 'START SLAVE'
  fi
  for _ in $(seq 1 60); do
    status=$(replica_status "$replica")
    if printf '%s\n' "$status" | grep -Eq '(Replica|Slave)_IO_Running: Yes' && printf '%s\n' "$status" | grep -Eq '(Replica|Slave)_SQL_Running: Yes'; then
      echo "$replica replicates from $primary"
      return 0
    fi
    sleep 1
  done
  echo "$replica: replication from $primary is not running after 60 s:" >&2
  printf '%s\n' "$status" | grep -E 'Running:|Last_(IO|SQL)_Error' >&2
  return 1
}

setup shard-0 shard-0-replica mysql
setup shard-1 shard-1-replica mysql
setup shard-2 shard-2-replica mariadb
setup shard-3 shard-3-replica mariadb
