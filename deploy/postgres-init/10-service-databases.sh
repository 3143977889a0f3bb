#!/bin/sh
# One role and one database per service, each owned by its role: no service can read another's
# tables. The postgres image runs this once, when its data volume is first initialised;
# passwords come from the container's environment (docker-compose.yml, filled from .env).
set -eu

for service in visits protocol notifications capacity; do
    var=$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD
    password=$(printenv "$var") || { echo "postgres-init: $var is not set" >&2; exit 1; }
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v role="$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
