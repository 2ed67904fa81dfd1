#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script):
#   1. installs what the tests need (scripts/bootstrap.sh test),
#   2. starts MariaDB and Redis on 127.0.0.1 if they are not running,
#   3. lint, formatting and migration checks,
#   4. pytest on SQLite, then on MariaDB, then on a MariaDB loaded from the ExtMan fixture.
# Extra arguments go to every pytest run (e.g. scripts/test.sh -k login -x).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test || exit 1

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export MAILADMIN_TEST_DB_USER=${MAILADMIN_TEST_DB_USER:-mailadmin_test}
export MAILADMIN_TEST_DB_PASSWORD=${MAILADMIN_TEST_DB_PASSWORD:-mailadmin_test}
export MAILADMIN_TEST_REDIS_URL=${MAILADMIN_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
# Base name of the MariaDB test databases (pytest adds "test_"; two checkouts testing at once on
# one machine give each its own name, e.g. mailadmin_b).
db_name=${MAILADMIN_TEST_DB_NAME:-mailadmin}
case $db_name in mailadmin*) ;; *) echo "MAILADMIN_TEST_DB_NAME must start with mailadmin" >&2; exit 1 ;; esac

wait_for() {  # wait_for <what> <command...>
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "FAILED: $what did not come up" >&2
  exit 1
}

start_mariadb() {
  if mysqladmin --protocol=socket -uroot ping >/dev/null 2>&1 || "${sudo_cmd[@]}" mysqladmin ping >/dev/null 2>&1; then
    return
  fi
  echo "Starting MariaDB"
  "${sudo_cmd[@]}" mkdir -p /run/mysqld
  "${sudo_cmd[@]}" chown mysql:mysql /run/mysqld
  "${sudo_cmd[@]}" start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_for MariaDB "${sudo_cmd[@]}" mysqladmin ping
}

start_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then return; fi
  echo "Starting Redis"
  "${sudo_cmd[@]}" mkdir -p /var/lib/redis /var/log/redis
  "${sudo_cmd[@]}" redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/mailadmin-tests.log
  wait_for Redis sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'
}

start_mariadb
start_redis

# A test-only account that may create and drop the test databases (test_mailadmin*).
"${sudo_cmd[@]}" mysql -uroot <<SQL || { echo "FAILED: cannot prepare the MariaDB test account" >&2; exit 1; }
CREATE USER IF NOT EXISTS '$MAILADMIN_TEST_DB_USER'@'127.0.0.1' IDENTIFIED BY '$MAILADMIN_TEST_DB_PASSWORD';
CREATE USER IF NOT EXISTS '$MAILADMIN_TEST_DB_USER'@'localhost' IDENTIFIED BY '$MAILADMIN_TEST_DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`test\\_mailadmin%\`.* TO '$MAILADMIN_TEST_DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`test\\_mailadmin%\`.* TO '$MAILADMIN_TEST_DB_USER'@'localhost';
SQL

mariadb_url="mysql://$MAILADMIN_TEST_DB_USER:$MAILADMIN_TEST_DB_PASSWORD@127.0.0.1:3306"
py=.venv/bin/python
status=0
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

step() {  # step <name> <command...>
  local name=$1
  shift
  echo "== $name"
  if ! "$@"; then
    echo "FAILED: $name" >&2
    status=1
  fi
}

export DEBUG=0 SECRET_KEY=tests-only-not-secret
step "ruff check" .venv/bin/ruff check .
step "ruff format --check" .venv/bin/ruff format --check .
step "makemigrations --check" env -u DATABASE_URL $py manage.py makemigrations --check --dry-run -v 1
step "check --deploy" env -u DATABASE_URL MAILADMIN_HSTS_SECONDS=31536000 MAILADMIN_SSL_REDIRECT=1 \
  MAILADMIN_HSTS_PRELOAD=1 MAILADMIN_SITE_URL=https://mail.example.com \
  SECRET_KEY="$(head -c 48 /dev/urandom | base64)" ALLOWED_HOSTS=mail.example.com \
  $py manage.py check --deploy --fail-level WARNING

run_pytest() {  # run_pytest <name> <marker expression> [env assignments...]
  local name=$1 markers=$2; shift 2
  echo "== pytest on $name"
  env "$@" $py -m pytest -m "$markers" --junitxml="$results/$name.xml" -q "${extra_args[@]}"
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAILED: pytest on $name (exit $rc)" >&2
    status=1
  fi
}
extra_args=("$@")
run_pytest sqlite "not mariadb and not legacy" -u DATABASE_URL
run_pytest mariadb "not legacy" DATABASE_URL="$mariadb_url/$db_name"
run_pytest legacy "legacy" DATABASE_URL="$mariadb_url/${db_name}_legacy" MAILADMIN_TEST_LEGACY_FIXTURE=1

$py - "$results" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

passed = failed = skipped = 0
for report in sorted(Path(sys.argv[1]).glob("*.xml")):
    for suite in ET.parse(report).getroot().iter("testsuite"):
        total = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed += total - bad - skip
        failed += bad
        skipped += skip
print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
PY
if [ $status -ne 0 ]; then echo "SOME CHECKS FAILED" >&2; fi
exit $status
