#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with a role the tests can use:
# installs Debian's postgresql if missing, starts the cluster (no systemd needed), and
# creates the role space_bridge (password space_bridge, CREATEDB). Safe to run again.
set -euo pipefail

PGHOST=127.0.0.1
PGPORT=${SPACE_PG_PORT:-5432}

answers() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "postgres.sh: installing PostgreSQL (Debian package)"
  [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock || true)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

if ! answers; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "postgres.sh: no PostgreSQL cluster found under /etc/postgresql" >&2; exit 1
  fi
  install -d -o postgres -g postgres /var/run/postgresql
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 60); do answers && break; sleep 0.5; done
  answers || { echo "postgres.sh: PostgreSQL $version did not start; see /var/log/postgresql/" >&2; exit 1; }
fi

runuser -u postgres -- psql -q -p "$PGPORT" -v ON_ERROR_STOP=1 <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'space_bridge') THEN
    CREATE ROLE space_bridge LOGIN CREATEDB PASSWORD 'space_bridge';
  END IF;
END $$;
SQL
echo "postgres.sh: PostgreSQL answers on $PGHOST:$PGPORT (role space_bridge)"
