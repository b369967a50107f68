"""deploy/responder.service: a unit systemd accepts, and install steps that work on a fresh host."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from kit.enginekit import ROOT

UNIT = ROOT / "deploy" / "responder.service"


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_the_unit_is_private_reloadable_and_starts_without_a_var_folder() -> None:
    d = _directives(UNIT.read_text(encoding="utf-8"))
    assert d["UMask"] == ["0077"]
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # A PostgreSQL host has no var/: systemd refuses a missing ReadWritePaths entry unless marked "-".
    assert d["ReadWritePaths"] and all(p.startswith("-") for p in d["ReadWritePaths"])


def test_the_install_steps_run_in_order_on_a_fresh_host(tmp_path: Path) -> None:
    """The unit's `install` lines, re-rooted under tmp_path and without the ownership flags
    (which need root and the responder user), run one after the other on an empty tree."""
    steps = [
        line.lstrip("#").strip()
        for line in UNIT.read_text(encoding="utf-8").splitlines()
        if line.lstrip("#").strip().startswith("install ")
    ]
    assert len(steps) == 3
    for step in steps:
        step = re.sub(r"-o \S+ -g \S+ ", "", step)
        step = step.replace("/etc/", f"{tmp_path}/etc/").replace("/opt/", f"{tmp_path}/opt/")
        done = subprocess.run(step.split("#")[0], shell=True, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{step}: {done.stderr}"
    mode = {
        p: stat.S_IMODE((tmp_path / p).stat().st_mode)
        for p in ("etc/responder", "etc/responder/env", "opt/responder/var")
    }
    assert mode == {"etc/responder": 0o750, "etc/responder/env": 0o640, "opt/responder/var": 0o700}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit, its paths pointed at things that exist here."""
    env = tmp_path / "env"
    env.write_text("TELEGRAM_BOT_TOKEN=x\n", encoding="utf-8")
    text = UNIT.read_text(encoding="utf-8")
    text = text.replace("/opt/responder/.venv/bin/python", sys.executable)
    text = text.replace("WorkingDirectory=/opt/responder", f"WorkingDirectory={tmp_path}")
    text = text.replace("/etc/responder/env", str(env))
    unit = tmp_path / "responder.service"
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    complaints = [
        line for line in (done.stdout + done.stderr).splitlines()
        if "responder.service" in line and "network-online.target" not in line
    ]  # fmt: skip
    assert complaints == [], done.stdout + done.stderr
