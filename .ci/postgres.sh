#!/usr/bin/env bash
# PostgreSQL for capstan's sql-driver tests, from Debian's packages: installs it when missing,
# creates a cluster when there is none, starts it when it is down, and makes sure the role
# `capstan` (password `capstan`, may create databases) can log in over TCP on 127.0.0.1.
# Idempotent. Needs root (apt-get, pg_ctlcluster). Its last line on stdout is the admin
# connection string, `CAPSTAN_TEST_POSTGRES=postgres://capstan:capstan@127.0.0.1:<port>/postgres`,
# which the tests use (capstan-testkit runs this script when no server answers).
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  log "installing postgresql from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql >&2
fi

# The first cluster (pg_lsclusters: Ver Cluster Port Status Owner Data Log); create one if none.
cluster=$(pg_lsclusters --no-header 2>/dev/null | awk 'NR == 1 { print $1, $2 }')
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  log "creating cluster $version/main"
  pg_createcluster "$version" main >&2
  cluster="$version main"
fi
read -r version name <<<"$cluster"
port=$(pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n { print $3 }')
status=$(pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n { print $4 }')

if [ "$status" != "online" ]; then
  log "starting cluster $version/$name on port $port"
  pg_ctlcluster "$version" "$name" start >&2
fi

for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p "$port"; then break; fi
  sleep 0.5
done
if ! pg_isready -h 127.0.0.1 -p "$port" >&2; then
  log "PostgreSQL $version/$name does not accept connections on 127.0.0.1:$port; see /var/log/postgresql/postgresql-$version-$name.log"
  exit 1
fi

# Debian's pg_hba.conf allows password logins from 127.0.0.1; give capstan a role to use.
runuser -u postgres -- psql -q -X -v ON_ERROR_STOP=1 -p "$port" -d postgres >&2 <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'capstan') THEN
    CREATE ROLE capstan LOGIN CREATEDB PASSWORD 'capstan';
  ELSE
    ALTER ROLE capstan LOGIN CREATEDB PASSWORD 'capstan';
  END IF;
END
$$;
SQL

echo "CAPSTAN_TEST_POSTGRES=postgres://capstan:capstan@127.0.0.1:$port/postgres"
