#!/usr/bin/env bash
# Local provisioning for `make run` and `make test`: system packages, PostgreSQL,
# Redis, the virtualenv, front-end packages and config/.env. Idempotent: every
# step checks before it acts, so running it twice is safe.
#
#   provision.sh packages [chromium]   Debian packages (root), or the exact line to run
#   provision.sh postgres              start the cluster, create role + database
#   provision.sh redis PORT DIR        start a Redis on PORT unless one answers there
#   provision.sh venv                  .venv with the pinned requirements
#   provision.sh npm                   node_modules from package-lock.json
#   provision.sh env                   config/.env from the example, with fresh secrets
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

DB_USER=${DB_USER:-nautilus}
DB_PASSWORD=${DB_PASSWORD:-nautilus}
DB_NAME=${DB_NAME:-nautilus_db}
# The role and database to create are the ones config/.env's DATABASE_URL names, when it
# points at this machine's PostgreSQL (postgresql://USER:PASSWORD@localhost[:5432]/NAME).
if [ -f config/.env ]; then
  url=$(sed -n 's/^DATABASE_URL=//p' config/.env | tail -n1)
  if [[ $url =~ ^postgres(ql)?://([A-Za-z0-9_]+):([A-Za-z0-9_.~-]*)@(localhost|127\.0\.0\.1)(:5432)?/([A-Za-z0-9_]+)$ ]]; then
    DB_USER=${BASH_REMATCH[2]} DB_PASSWORD=${BASH_REMATCH[3]} DB_NAME=${BASH_REMATCH[6]}
  fi
fi

packages() {
  local want=(postgresql redis-server)
  [ "${1:-}" = chromium ] && want+=(chromium fonts-liberation)
  local missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    die "Missing Debian packages: ${missing[*]}. Install them as root, then run make again:
    sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  fi
  say "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# From / : the postgres user may not enter the checkout (e.g. a private temp dir).
pg_run() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

postgres() {
  if ! pg_isready -q -h localhost -p 5432 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not running on localhost:5432. Start it as root: sudo pg_ctlcluster <version> main start"
    local version
    version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
      say "Creating PostgreSQL $version cluster"
      pg_createcluster "$version" main >/dev/null
    fi
    say "Starting PostgreSQL $version"
    pg_ctlcluster "$version" main start
    for _ in $(seq 1 50); do pg_isready -q -h localhost -p 5432 && break; sleep 0.2; done
    pg_isready -q -h localhost -p 5432 || die "PostgreSQL did not come up; see /var/log/postgresql/"
  fi
  if [ "$(id -u)" = 0 ]; then
    # Web, workers, the node, beat and a test run with its own workers easily pass
    # the default 100 connections; a refused connection is a 500 for an order.
    if [ "$(pg_run psql -tAc "SHOW max_connections")" -lt 300 ]; then
      say "Raising PostgreSQL max_connections to 300 (restart)"
      pg_run psql -qc "ALTER SYSTEM SET max_connections = 300"
      pg_ctlcluster "$(ls /usr/lib/postgresql | sort -V | tail -n1)" main restart
      for _ in $(seq 1 50); do pg_isready -q -h localhost -p 5432 && break; sleep 0.2; done
    fi
    if [ "$(pg_run psql -tAc "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != 1 ]; then
      say "Creating database role $DB_USER"
      pg_run psql -qc "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
    fi
    if [ "$(pg_run psql -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != 1 ]; then
      say "Creating database $DB_NAME"
      pg_run psql -qc "CREATE DATABASE $DB_NAME OWNER $DB_USER"
    fi
  fi
}

redis() {
  local port=${1:-6379} dir=${2:-$ROOT/var/redis}
  if redis-cli -p "$port" ping >/dev/null 2>&1; then return 0; fi
  command -v redis-server >/dev/null || die "redis-server is not installed: sudo apt-get install -y redis-server"
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
  say "Starting Redis on port $port"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --appendonly yes --save ""
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "Redis did not come up on port $port; see $dir/redis.log"
}

venv() {
  local py stamp
  py=$(deploy/local/find-python.sh)
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import sys; sys.exit(0 if sys.version_info[:2]==(3,12) else 1)"; then
    say "Creating .venv with $py"
    rm -rf .venv
    "$py" -m venv .venv
  fi
  stamp=".venv/.requirements-$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    say "Installing pinned Python packages"
    .venv/bin/pip install -q --disable-pip-version-check --upgrade pip==25.3
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
    rm -f .venv/.requirements-*
    touch "$stamp"
  fi
}

npm_install() {
  command -v npm >/dev/null || die "npm is not installed: sudo apt-get install -y npm"
  local stamp
  stamp="node_modules/.lock-$(sha256sum package-lock.json | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    say "Installing front-end packages"
    npm ci --silent --no-audit --no-fund >/dev/null
    touch "$stamp"
  fi
}

env_file() {
  [ -f config/.env ] && return 0
  say "Writing config/.env from config/.env.example with fresh secrets"
  local secret key
  secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
  key=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n')
  sed -e "s|^SECRET_KEY=.*|SECRET_KEY=$secret|" -e "s|^CREDENTIALS_KEY=.*|CREDENTIALS_KEY=$key|" \
    config/.env.example > config/.env
}

case "${1:-}" in
  packages) shift; packages "$@" ;;
  postgres) postgres ;;
  redis) shift; redis "$@" ;;
  venv) venv ;;
  npm) npm_install ;;
  env) env_file ;;
  *) die "usage: $0 packages [chromium] | postgres | redis [PORT DIR] | venv | npm | env" ;;
esac
