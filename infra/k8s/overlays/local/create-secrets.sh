#!/bin/sh
# Creates the Secrets the local overlay references, with random passwords, in the namespace
# `workstream`. Run it once per cluster before `kubectl apply -k infra/k8s/overlays/local`.
# Running it again keeps the passwords already there (the databases were initialised with them)
# and only rewrites the Secrets from them. Nothing here is ever written to the repository.
set -eu

ns="${NAMESPACE:-workstream}"
kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -

# The password a credentials Secret already holds, else a new random one (hex: safe inside URLs).
password() {
  existing="$(kubectl -n "$ns" get secret "$1" -o jsonpath='{.data.password}' 2>/dev/null || true)"
  if [ -n "$existing" ]; then
    printf '%s' "$existing" | base64 -d
  else
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
  fi
}

apply() {
  kubectl -n "$ns" create secret generic "$@" --dry-run=client -o yaml | kubectl apply -f -
}

postgres="$(password postgres-credentials)"
mongo="$(password mongo-credentials)"
redis="$(password redis-credentials)"
rabbitmq="$(password rabbitmq-credentials)"

# What each stateful dependency is initialised with.
apply postgres-credentials --from-literal=password="$postgres"
apply mongo-credentials --from-literal=password="$mongo"
apply redis-credentials --from-literal=password="$redis"
apply rabbitmq-credentials --from-literal=password="$rabbitmq"

# What each service connects with: one Secret per service, none shared.
apply tasks-secrets \
  --from-literal=database-url="postgres://tasks:${postgres}@postgres:5432/tasks" \
  --from-literal=amqp-url="amqp://workstream:${rabbitmq}@rabbitmq:5672"
apply notifications-secrets \
  --from-literal=amqp-url="amqp://workstream:${rabbitmq}@rabbitmq:5672" \
  --from-literal=redis-url="redis://:${redis}@redis:6379" \
  --from-literal=mongo-url="mongodb://notifications:${mongo}@mongo:27017/?authSource=admin"
