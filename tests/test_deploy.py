"""The systemd unit and the installer, checked as systemd itself reads them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNIT = DEPLOY / "ollagram.service"
needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@needs_systemd
def test_unit_exposure_is_at_most_2() -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for ollagram\.service: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0


@needs_systemd
def test_unit_verifies(tmp_path: Path) -> None:
    # verify insists that ExecStart exists; on this machine nothing is installed in /opt.
    unit = tmp_path / "ollagram.service"
    text = UNIT.read_text().replace("/opt/ollagram/venv/bin/ollagram", "/bin/true")
    unit.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_reads_the_installed_config_and_keeps_state_in_its_directory() -> None:
    text = UNIT.read_text()
    assert "EnvironmentFile=/etc/ollagram/config.env" in text
    assert "StateDirectory=ollagram" in text
    assert "ExecStart=/opt/ollagram/venv/bin/ollagram run" in text
    assert "--config" not in text, "the dynamic user cannot read the root-only file itself"


def test_installer_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(DEPLOY / "install.sh")], check=True, timeout=30)
