"""Outside programs some tests need, installed from Debian's packages when they are missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

APT_LISTS = Path("/var/lib/apt/lists")


def _apt_get(*args: str) -> None:
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", *args], env=env, capture_output=True, text=True, check=False, timeout=600
    )
    if result.returncode != 0:
        raise RuntimeError(f"apt-get {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def debian_binary(name: str, package: str) -> str:
    """The path of ``name``, installing Debian's ``package`` first when it is not there yet."""
    if found := shutil.which(name):
        return found
    if not shutil.which("apt-get"):
        raise FileNotFoundError(f"{name} is missing and apt-get is not available to install it")
    # A fresh image has no package lists; an old list may name versions no longer served.
    if not any(APT_LISTS.glob("*_Packages*")):
        _apt_get("update")
    try:
        _apt_get("install", "-y", "--no-install-recommends", package)
    except RuntimeError:
        _apt_get("update")
        _apt_get("install", "-y", "--no-install-recommends", package)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"installed {package}, but {name} is still not on PATH")
    return found


def prometheus_binary() -> str:
    return debian_binary("prometheus", "prometheus")


def promtool_binary() -> str:
    prometheus_binary()  # Debian's prometheus package ships promtool beside it
    return debian_binary("promtool", "prometheus")


def chromium_binary() -> str:
    """Debian's Chromium, which the browser tests drive through Playwright."""
    return debian_binary("chromium", "chromium")
