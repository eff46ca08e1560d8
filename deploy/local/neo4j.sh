#!/usr/bin/env bash
# The local Neo4j for `make run` (and the launcher the test suite and benchmarks use).
# Idempotent: every command checks before it acts.
#
#   neo4j.sh build     build deploy/neo4j once with Maven into var/neo4j-launcher (cached by a hash
#                      of its sources); needs Java 17 + Maven (installed as root when missing)
#   neo4j.sh ensure    start the local server when NEO4J_BOLT_URL (env, else config/.env) points at
#                      this machine and nothing answers there; an external URL or an empty one is left alone
#   neo4j.sh start [PORT [HOME]]   start in the background on 127.0.0.1:PORT (default 7687, var/neo4j),
#                                  then warms its JIT in the background (NEO4J_WARM_UP_ROUNDS, default 3; 0 skips it)
#   neo4j.sh stop [HOME]           stop the server started from HOME
#   neo4j.sh status [HOME]         print whether it runs; exit 0 when it does
#
# Authentication is off: the server binds 127.0.0.1 only (like the desk's local Redis).
# NEO4J_PASSWORD=... starts it with auth on for the user "neo4j" instead; then put the
# credentials in the URL: NEO4J_BOLT_URL=bolt://neo4j:PASSWORD@localhost:7687.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

LAUNCHER=$ROOT/var/neo4j-launcher
# The same JVM as the tests' and the benchmark's servers (portfolio/graph/local_server.py): a fixed
# heap (growing it from 64 MB cost a dozen full collections in a bulk projection), and a JIT warm-up
# after READY, in the background (DESK_WARM_UP_ROUNDS there): a fresh JVM spends most of its first
# full projection compiling Neo4j; the warm-up runs that work against a scratch DBMS so the desk's
# resyncs do not, and `make run` does not wait for it.
JAVA_OPTS=${NEO4J_JAVA_OPTS:--Xms512m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError}
WARM_UP_ROUNDS=${NEO4J_WARM_UP_ROUNDS:-3}

sources_hash() { cat deploy/neo4j/pom.xml deploy/neo4j/src/main/java/desk/neo4j/*.java | sha256sum | cut -c1-16; }

build() {
  local stamp
  stamp="$LAUNCHER/.built-$(sources_hash)"
  [ -f "$stamp" ] && return 0
  if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
    [ "$(id -u)" = 0 ] || die "Java 17 and Maven are needed to build the local Neo4j. Install them as root, then run make again:
    sudo apt-get update && sudo apt-get install -y openjdk-17-jdk-headless maven"
    say "Installing Java 17 and Maven"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless maven >/dev/null
  fi
  say "Building the local Neo4j launcher (Maven Central; once)"
  rm -rf "$LAUNCHER"
  (cd deploy/neo4j && mvn -q -B package) || die "Building deploy/neo4j failed (see the Maven output above)"
  touch "$stamp"
}

bolt_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local port=${1:-7687} home=${2:-$ROOT/var/neo4j}
  mkdir -p "$home" && home=$(cd "$home" && pwd)
  if bolt_answers "$port"; then return 0; fi
  build
  local started args=(--home "$home" --port "$port" --warm-up-rounds "$WARM_UP_ROUNDS")
  [ -n "${NEO4J_PASSWORD:-}" ] && args+=(--password "$NEO4J_PASSWORD")
  local warm=""
  [ "$WARM_UP_ROUNDS" -gt 0 ] && warm="; it warms its JIT in the background once up"
  say "Starting Neo4j on 127.0.0.1:$port (data in ${home#"$ROOT"/}$warm)"
  started=$(date +%s)
  rm -f "$home/launcher.log"
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of flags
  nohup java $JAVA_OPTS -cp "$LAUNCHER/classes:$LAUNCHER/lib/*" desk.neo4j.Launcher "${args[@]}" \
    >"$home/launcher.log" 2>&1 </dev/null &
  echo $! >"$home/neo4j.pid"
  for _ in $(seq 1 1800); do
    if grep -q "^READY " "$home/launcher.log" 2>/dev/null; then
      say "Neo4j is up on bolt://127.0.0.1:$port after $(( $(date +%s) - started ))s"
      return 0
    fi
    kill -0 "$(cat "$home/neo4j.pid")" 2>/dev/null || die "Neo4j exited while starting; see $home/launcher.log"
    sleep 0.1
  done
  die "Neo4j did not come up on port $port within 180s; see $home/launcher.log"
}

stop() {
  local home=${1:-$ROOT/var/neo4j} pid
  [ -f "$home/neo4j.pid" ] || return 0
  pid=$(cat "$home/neo4j.pid")
  if kill -0 "$pid" 2>/dev/null; then
    say "Stopping Neo4j (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$home/neo4j.pid"
}

status() {
  local home=${1:-$ROOT/var/neo4j}
  if [ -f "$home/neo4j.pid" ] && kill -0 "$(cat "$home/neo4j.pid")" 2>/dev/null; then
    echo "Neo4j is running (pid $(cat "$home/neo4j.pid"), $(grep '^READY ' "$home/launcher.log" 2>/dev/null | cut -d' ' -f2))"
    return 0
  fi
  echo "Neo4j is not running from $home"
  return 1
}

ensure() {
  local url=${NEO4J_BOLT_URL-}
  if [ -z "${NEO4J_BOLT_URL+set}" ] && [ -f config/.env ]; then
    url=$(sed -n 's/^NEO4J_BOLT_URL=//p' config/.env | tail -n1)
  fi
  [ -n "$url" ] || return 0
  # scheme://[user:pass@]host[:port][/db]
  local hostport=${url#*://}
  hostport=${hostport##*@}
  hostport=${hostport%%/*}
  local host=${hostport%%:*} port=7687
  [ "$hostport" != "$host" ] && port=${hostport##*:}
  case "$host" in
    localhost|127.0.0.1|\[::1\]) start "$port" ;;
    *) return 0 ;;  # an external server or cluster: not ours to start
  esac
}

case "${1:-}" in
  build) build ;;
  ensure) ensure ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  status) shift; status "$@" ;;
  *) die "usage: $0 build | ensure | start [PORT [HOME]] | stop [HOME] | status [HOME]" ;;
esac
