#!/usr/bin/env bash
# Makes sure the local PostgreSQL, Redis and RabbitMQ answer, starting any that is down with
# the machine's own commands (../shared/MACHINE.md). Used by .ci/run and handy after a reboot.
set -euo pipefail

wait_for() { # name, tries, command...
  local name=$1 tries=$2; shift 2
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && { echo "$name: up"; return 0; }; sleep 1; done
  echo "$name: did not answer after ${tries}s" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -q; then
  echo "PostgreSQL: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
wait_for PostgreSQL 30 pg_isready -h 127.0.0.1 -q

if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  echo "Redis: starting"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for Redis 30 redis-cli -h 127.0.0.1 ping

if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
  echo "RabbitMQ: starting"
  rabbitmq-server -detached
fi
wait_for RabbitMQ 90 rabbitmq-diagnostics -q ping
