#!/bin/sh
# Restore a dump of ops/backup.sh into an EMPTY database (docs/deployment.md "Backups"):
#
#   createdb -h HOST -U USER stayhold_restored          (or CREATE DATABASE …)
#   ops/restore.sh var/backups/stayhold-20270101T030000Z.dump postgres://user:password@host:5432/stayhold_restored
#
# Then point DATABASE_URL at it (or rename the databases) and start the app; `manage.py migrate` applies any
# migration newer than the dump. It refuses a database that already has tables (restoring over live data would mix
# two states). One transaction: on any error nothing is restored. The exclusion constraint that keeps nights from
# being sold twice is restored with the schema (and the btree_gist extension it needs).
set -eu
dump="${1:?usage: ops/restore.sh DUMP_FILE TARGET_DATABASE_URL}"
url="${2:?usage: ops/restore.sh DUMP_FILE TARGET_DATABASE_URL}"
test -f "$dump" || { echo "no such dump: $dump" >&2; exit 1; }
tables="$(psql --no-psqlrc --quiet --tuples-only --no-align --dbname="$url" \
    --command="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")"
if [ "$tables" != "0" ]; then
    echo "refusing to restore: the target database already has $tables tables (restore into a new, empty one)" >&2
    exit 1
fi
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$url" "$dump"
echo "restored $dump"
