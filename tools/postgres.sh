#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the tests: `tools/postgres.sh run COMMAND...` creates a
# cluster in a temporary folder with Debian's initdb/pg_ctl (as the `postgres` user when run as root:
# PostgreSQL refuses to run as root), starts it on a free port, runs COMMAND with
# NIMBUS_TEST_DATABASE_URL pointing at its superuser database, then stops it and deletes the folder.
# tests/conftest.py creates a fresh database per test server from that URL.
set -euo pipefail

usage() { echo "usage: $0 run COMMAND [ARG...]" >&2; exit 2; }
[ "${1:-}" = run ] && [ $# -ge 2 ] || usage
shift

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "$0: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

folder=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-postgres.XXXXXX")
stop() {
	as_owner "$bin/pg_ctl" stop -D "$folder/cluster" -m fast -s >/dev/null 2>&1 || true
	rm -rf "$folder"
}
trap stop EXIT
[ "$(id -u)" = 0 ] && chown postgres: "$folder"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# trust on loopback only: the cluster lives as long as this script and listens nowhere else
as_owner "$bin/initdb" -D "$folder/cluster" -U nimbus -A trust -E UTF8 --locale=C.UTF-8 \
	--locale-provider=icu --icu-locale=en-US >/dev/null
# fsync off: a crash loses only this throwaway cluster, and the tests run faster without it
as_owner "$bin/pg_ctl" start -D "$folder/cluster" -l "$folder/server.log" -w -s \
	-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$folder -c fsync=off \
-c max_connections=300" || { cat "$folder/server.log" >&2; exit 1; }

NIMBUS_TEST_DATABASE_URL="postgresql+psycopg://nimbus@127.0.0.1:$port/postgres" "$@"
