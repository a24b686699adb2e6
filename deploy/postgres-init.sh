#!/bin/sh
# Creates ordersaga's roles and databases on a fresh PostgreSQL data directory.
#
# The official postgres image runs the files in /docker-entrypoint-initdb.d once, when the
# data directory is empty (never again on restart: changing this file later has no effect
# on an existing volume). This file is sourced rather than executed when it has lost its
# executable bit, so it uses no `set -e/-u` (that would leak into the image's entrypoint)
# and stops on errors through ${VAR:?} and psql's ON_ERROR_STOP instead.
#
#   role       databases                          used by
#   temporal   temporal, temporal_visibility      the Temporal server (persistence, visibility)
#   ordersaga  orders, inventory, payments,       the order, inventory, payment and shipping
#              shipping                           services, one database each
#
# Each database is owned by its role (so the role can create its schema's tables) and only
# that role (and the superuser) may connect to it.

psql -v ON_ERROR_STOP=1 --no-psqlrc \
    --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v temporal_password="${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD must be set}" \
    -v ordersaga_password="${ORDERSAGA_DB_PASSWORD:?ORDERSAGA_DB_PASSWORD must be set}" \
    <<'SQL'
CREATE ROLE temporal  LOGIN PASSWORD :'temporal_password';
CREATE ROLE ordersaga LOGIN PASSWORD :'ordersaga_password';

CREATE DATABASE temporal            OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE DATABASE orders              OWNER ordersaga;
CREATE DATABASE inventory           OWNER ordersaga;
CREATE DATABASE payments            OWNER ordersaga;
CREATE DATABASE shipping            OWNER ordersaga;

REVOKE ALL ON DATABASE temporal, temporal_visibility, orders, inventory, payments, shipping FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE temporal, temporal_visibility TO temporal;
GRANT CONNECT, TEMPORARY ON DATABASE orders, inventory, payments, shipping TO ordersaga;
SQL
