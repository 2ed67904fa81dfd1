#!/usr/bin/env bash
# Quick start: the panel served as production serves it (gunicorn, DEBUG=0, static files served
# by the application), on SQLite, jobs run inline, mail data under ./var, at MAILADMIN_LISTEN
# (default 127.0.0.1:8000), with a demo superadmin whose password is printed below.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run

listen="${MAILADMIN_LISTEN:-127.0.0.1:8000}"
host="${listen%:*}"
port="${listen##*:}"
host="${host#[}"
host="${host%]}"
case "$host" in
  0.0.0.0 | :: | "")  # every interface: the URL names this machine
    url_host=$(hostname -I 2>/dev/null | awk '{print $1}')
    url_host=${url_host:-$(hostname)}
    hosts="127.0.0.1,localhost,$(hostname),$(hostname -I 2>/dev/null | tr ' ' ',')"
    ;;
  *:*) url_host="[$host]"; hosts="$host,127.0.0.1,localhost" ;;
  *) url_host="$host"; hosts="$host,127.0.0.1,localhost" ;;
esac

mkdir -p var/maildata var/postfix var/static
if [ ! -s var/secret_key ]; then
  .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > var/secret_key
  chmod 600 var/secret_key
fi

export DEBUG="${DEBUG:-0}"
export SECRET_KEY_FILE="$PWD/var/secret_key"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-${hosts%,}}"
# Plain HTTP on this machine: cookies without the Secure flag (production sets it, behind TLS).
export MAILADMIN_SECURE_COOKIES="${MAILADMIN_SECURE_COOKIES:-0}"
export MAILADMIN_STATIC_ROOT="${MAILADMIN_STATIC_ROOT:-$PWD/var/static}"
export MAILADMIN_MAIL_BASE="${MAILADMIN_MAIL_BASE:-$PWD/var/maildata}"
export MAILADMIN_POSTFIX_DIR="${MAILADMIN_POSTFIX_DIR:-$PWD/var/postfix}"
export MAILADMIN_EMAIL_BACKEND="${MAILADMIN_EMAIL_BACKEND:-console}"
# Links in the panel's mails lead to the address printed below.
export MAILADMIN_SITE_URL="${MAILADMIN_SITE_URL:-http://$url_host:$port}"

.venv/bin/python manage.py migrate --no-input -v 0
.venv/bin/python manage.py collectstatic --no-input -v 0

demo_user="${MAILADMIN_DEMO_USER:-admin@example.com}"
demo_password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')
printf '%s\n' "$demo_password" | .venv/bin/python manage.py create_superadmin \
  --username "$demo_user" --name "Demo superadmin" --password-stdin --update >/dev/null

cat <<MSG

  mailadmin is starting at http://$url_host:$port/
  Demo superadmin:  $demo_user
  Password:         $demo_password   (a new one is set at every start)

MSG
# One process with threads: without a broker, jobs and background operations run in this
# process, whose pages then see their progress. Production: docs/operations.md.
exec .venv/bin/gunicorn --bind "$listen" --workers 1 --threads 4 --timeout 60 \
  --access-logfile - --error-logfile - mailadmin.wsgi:application
