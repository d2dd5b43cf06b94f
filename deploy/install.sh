#!/usr/bin/env bash
# Installs (or upgrades) ollagram as a systemd service on this machine:
#   the program in a venv under /opt/ollagram, the settings in /etc/ollagram/config.env (0600),
#   the unit in /etc/systemd/system/ollagram.service, enabled at boot.
# Run from a checkout: sudo deploy/install.sh    (PYTHON=python3.12 to pick the interpreter)
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it as root: sudo $0" >&2
  exit 1
fi
src="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "install.sh: needs Python 3.11+ with venv (apt install python3-venv, or PYTHON=...)" >&2
  exit 1
fi

install -d -m 0755 /opt/ollagram
[ -x /opt/ollagram/venv/bin/python ] || "$python" -m venv /opt/ollagram/venv
/opt/ollagram/venv/bin/python -m pip install --quiet --upgrade pip
/opt/ollagram/venv/bin/python -m pip install --quiet --upgrade "$src"

install -d -m 0700 /etc/ollagram
if [ ! -f /etc/ollagram/config.env ]; then
  install -m 0600 "$src/config.example.env" /etc/ollagram/config.env
  echo "Created /etc/ollagram/config.env: set TELEGRAM_BOT_TOKEN and ALLOWED_USER_IDS in it."
fi
chmod 0600 /etc/ollagram/config.env

install -m 0644 "$src/deploy/ollagram.service" /etc/systemd/system/ollagram.service
systemctl daemon-reload
systemctl enable ollagram.service >/dev/null
if grep -Eq '^TELEGRAM_BOT_TOKEN=.+' /etc/ollagram/config.env; then
  systemctl restart ollagram.service
  echo "ollagram is running: journalctl -u ollagram -f"
else
  echo "When the token is set: sudo systemctl start ollagram && journalctl -u ollagram -f"
fi
