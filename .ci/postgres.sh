#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the tests and print its SQLAlchemy URL.
# Installs Debian's postgresql when missing. The server's data lives in a temporary folder.
set -euo pipefail
port=${1:-55432}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends postgresql >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=$(mktemp -d /tmp/hotspots-pg.XXXXXX)
chown postgres:postgres "$data"
su postgres -s /bin/sh -c "$bin/initdb -D $data -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$bin/pg_ctl -D $data -l $data/server.log -w \
  -o '-p $port -k $data -c listen_addresses=127.0.0.1' start" >/dev/null
su postgres -s /bin/sh -c "$bin/createdb -h 127.0.0.1 -p $port -U postgres hotspots_test"
echo "$data" > /tmp/hotspots-pg.datadir
echo "postgresql+psycopg://postgres@127.0.0.1:$port/hotspots_test"
