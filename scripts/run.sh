#!/usr/bin/env bash
# Quick start: the panel on SQLite, jobs run inline, mail data under ./var, at
# http://127.0.0.1:8000 with a demo superadmin whose password is printed below.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run

mkdir -p var/maildata var/postfix
if [ ! -s var/secret_key ]; then
  .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > var/secret_key
  chmod 600 var/secret_key
fi

export DEBUG="${DEBUG:-1}"
export SECRET_KEY_FILE="$PWD/var/secret_key"
export MAILADMIN_MAIL_BASE="${MAILADMIN_MAIL_BASE:-$PWD/var/maildata}"
export MAILADMIN_POSTFIX_DIR="${MAILADMIN_POSTFIX_DIR:-$PWD/var/postfix}"
export MAILADMIN_EMAIL_BACKEND="${MAILADMIN_EMAIL_BACKEND:-console}"

.venv/bin/python manage.py migrate --no-input -v 0

demo_user="${MAILADMIN_DEMO_USER:-admin@example.com}"
demo_password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')
printf '%s\n' "$demo_password" | .venv/bin/python manage.py create_superadmin \
  --username "$demo_user" --name "Demo superadmin" --password-stdin --update >/dev/null

cat <<MSG

  mailadmin is starting at http://127.0.0.1:8000/
  Demo superadmin:  $demo_user
  Password:         $demo_password   (a new one is set at every start)

MSG
exec .venv/bin/python manage.py runserver "${MAILADMIN_LISTEN:-127.0.0.1:8000}"
