#!/bin/sh
# A backup of the database: pg_dump in PostgreSQL's custom format (compressed; pg_restore can restore it whole or in
# parts), written under a temporary name and renamed when complete, then all but the newest BACKUP_KEEP dumps
# deleted. Prints the file written. Run it from cron or compose.yaml's `backup` service (docs/deployment.md "Backups").
#
#   ops/backup.sh [DATABASE_URL]     default: $DATABASE_URL (postgres://user:password@host:5432/name)
#   BACKUP_DIR   where the dumps go (default var/backups)
#   BACKUP_KEEP  how many dumps to keep, the newest (default 14; with one a day, two weeks)
#
# The dump is consistent (one snapshot) and does not block the app: bookings go on while it runs.
# Media files (MEDIA_ROOT, PRIVATE_MEDIA_ROOT) are not in it: copy those folders as well.
set -eu
url="${1:-${DATABASE_URL:?usage: ops/backup.sh DATABASE_URL (or set DATABASE_URL)}}"
dir="${BACKUP_DIR:-var/backups}"
keep="${BACKUP_KEEP:-14}"
mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
file="$dir/stayhold-$stamp.dump"
partial="$dir/.stayhold-$stamp.dump.partial"
trap 'rm -f "$partial"' EXIT
pg_dump --format=custom --no-owner --no-privileges --dbname="$url" --file="$partial"
mv "$partial" "$file"
# Retention: the names sort by time; keep the newest $keep complete dumps.
ls -1 "$dir" | grep -E '^stayhold-[0-9]{8}T[0-9]{6}Z\.dump$' | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
    rm -f "$dir/$old"
done
echo "$file"
