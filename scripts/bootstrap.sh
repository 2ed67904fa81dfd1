#!/usr/bin/env bash
# Installs what mailadmin needs on a Debian machine: Debian packages (only those missing) and
# a virtual environment in .venv with the Python packages of pyproject.toml.
#   scripts/bootstrap.sh run    packages for running the panel
#   scripts/bootstrap.sh test   plus the database, broker, mail tools and browser for the tests
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-run}
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

# flite and sox: the spoken captcha (django-simple-captcha's audio alternative).
packages=(python3 python3-venv python3-dev build-essential pkg-config libmariadb-dev gettext
          flite sox)
if [ "$profile" = test ]; then
  packages+=(mariadb-server mariadb-client redis-server postfix postfix-mysql
             dovecot-core dovecot-mysql courier-authdaemon courier-authlib-mysql maildrop
             chromium chromium-driver fail2ban systemd nginx-light)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  # Postfix must not ask questions; the panel writes its own configuration snippets.
  echo "postfix postfix/main_mailer_type select No configuration" | "${sudo_cmd[@]}" debconf-set-selections
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "mailadmin needs Python 3.11 (found $("$python" --version 2>&1)); set PYTHON=..." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi

# Only the dependencies are installed: the project runs from its checkout, so one environment
# is not tied to one path.
stamp=".venv/.installed-$profile"
digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ] && [ "$(cat .venv/.installed-test 2>/dev/null)" != "$digest" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python - "$profile" <<'PY' > .venv/requirements.txt
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = list(project["dependencies"])
if sys.argv[1] == "test":
    deps += project["optional-dependencies"]["test"]
print("\n".join(deps))
PY
  .venv/bin/python -m pip install -q -r .venv/requirements.txt
  echo "$digest" > "$stamp"
fi

# Translations are compiled from the committed .po files.
DEBUG=1 .venv/bin/python manage.py compilemessages -v 0 --ignore '.venv'
