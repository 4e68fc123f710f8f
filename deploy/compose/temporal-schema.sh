#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to the
# version the admin-tools image ships (the server image does not do it, unlike
# the deprecated auto-setup image). Idempotent: a second run changes nothing.
set -eu
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p 5432 -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"; }
until nc -z "$POSTGRES_SEEDS" 5432; do sleep 1; done
for db in temporal temporal_visibility; do
  case $db in temporal) dir=temporal ;; *) dir=visibility ;; esac
  tool --db "$db" create || true   # exists after the first run
  tool --db "$db" setup-schema -v 0.0 2>/dev/null || true   # the version table exists after the first run
  tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
echo "temporal schema ready"
