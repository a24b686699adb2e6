#!/bin/sh
# Registers the custom search attributes that every order's workflow sets, in the
# namespace orders run in. Without them the worker and the API refuse to start (and every
# order's workflow task would fail), so the compose file runs this once, after the
# Temporal server is healthy and before the worker and the API.
#
# It is idempotent: attributes already present are left alone, so it is safe to run on
# every `docker compose up` and by hand against any cluster:
#
#   TEMPORAL_ADDRESS=temporal.example:7233 TEMPORAL_NAMESPACE=ordersaga \
#     sh deploy/register-search-attributes.sh
#
# The list must match internal/temporalx.SearchAttributes (name=type).
#
# Settings: TEMPORAL_ADDRESS (temporal:7233), TEMPORAL_NAMESPACE (default),
# TEMPORAL_CLI (temporal), WAIT_SECONDS (120: how long to wait for the namespace).
set -eu

address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
cli="${TEMPORAL_CLI:-temporal}"
wait_seconds="${WAIT_SECONDS:-120}"
attributes="OrderStatus=Keyword CustomerId=Keyword OrderTotalCents=Int"

tctl() { "$cli" --address "$address" "$@"; }

# The server answers health checks before auto-setup has created the namespace, and a
# new namespace takes a moment to reach every frontend's cache: wait until its search
# attributes can be listed.
waited=0
until tctl operator search-attribute list --namespace "$namespace" >/dev/null 2>&1; do
    if [ "$waited" -ge "$wait_seconds" ]; then
        echo "namespace $namespace at $address not available after ${wait_seconds}s" >&2
        tctl operator search-attribute list --namespace "$namespace" >&2 || true
        exit 1
    fi
    echo "waiting for namespace $namespace at $address..."
    sleep 2
    waited=$((waited + 2))
done

for attribute in $attributes; do
    name="${attribute%%=*}"
    type="${attribute#*=}"
    # `list -o json` prints {"customAttributes": {"Name": "INDEXED_VALUE_TYPE_KEYWORD", ...}}.
    want="\"$name\": \"INDEXED_VALUE_TYPE_$(echo "$type" | tr '[:lower:]' '[:upper:]')\""
    if tctl operator search-attribute list --namespace "$namespace" --output json |
        grep -qF "$want"; then
        echo "search attribute $name ($type) already registered in $namespace"
        continue
    fi
    # Creating an attribute that exists with the same type is a no-op on current servers;
    # one that exists with another type fails here, loudly, as it should.
    echo "registering search attribute $name ($type) in $namespace"
    tctl operator search-attribute create --namespace "$namespace" --name "$name" --type "$type"
done

echo "search attributes of namespace $namespace:"
tctl operator search-attribute list --namespace "$namespace"
