#!/usr/bin/env bash
# Installs (or upgrades) ollagram as a systemd service on this machine:
#   the program in a venv under /opt/ollagram, the settings in /etc/ollagram/config.env (0600),
#   the unit in /etc/systemd/system/ollagram.service, enabled at boot.
# Run from a checkout: sudo deploy/install.sh   (another interpreter: sudo PYTHON=python3.12 deploy/install.sh)
set -euo pipefail
umask 022  # the service's throwaway user must be able to read the venv

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it as root: sudo $0" >&2
  exit 1
fi
src="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "install.sh: needs Python 3.11+ with venv (apt install python3-venv, or PYTHON=...)" >&2
  exit 1
fi

# Built from a clean copy: building in the checkout as root would leave root-owned build/
# folders there, and setuptools would reuse them (shipping files deleted since).
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cp -r "$src/pyproject.toml" "$src/README.md" "$src/bot" "$build/"

install -d -m 0755 /opt/ollagram
if ! /opt/ollagram/venv/bin/python -m pip --version >/dev/null 2>&1; then
  rm -rf /opt/ollagram/venv  # missing, or left half-made by a failed earlier run
  "$python" -m venv /opt/ollagram/venv
fi
/opt/ollagram/venv/bin/python -m pip install --quiet --upgrade pip
/opt/ollagram/venv/bin/python -m pip install --quiet --upgrade "$build"

# 0755: a ROLES_FILE here must be readable by the service's user; config.env stays 0600 (systemd
# reads it as root).
install -d -m 0755 /etc/ollagram
if [ ! -f /etc/ollagram/config.env ]; then
  install -m 0600 "$src/config.example.env" /etc/ollagram/config.env
  echo "Created /etc/ollagram/config.env: set TELEGRAM_BOT_TOKEN and ALLOWED_USER_IDS in it."
fi
chmod 0600 /etc/ollagram/config.env

install -m 0644 "$src/deploy/ollagram.service" /etc/systemd/system/ollagram.service
systemctl daemon-reload
systemctl enable ollagram.service >/dev/null
if grep -Eq '^TELEGRAM_BOT_TOKEN=["'"'"']?[0-9]+:' /etc/ollagram/config.env; then
  systemctl restart ollagram.service
  echo "ollagram is running: journalctl -u ollagram -f"
else
  echo "When the token is set: sudo systemctl start ollagram && journalctl -u ollagram -f"
fi
