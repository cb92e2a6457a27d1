"""The package as pip installs it: a wheel built offline from a copy of clients/python (so the
build leaves nothing in the tree) carries py.typed and depends on httpx alone."""

from __future__ import annotations

import email.parser
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import under_ci

PROJECT = Path(__file__).resolve().parents[1]


def test_the_wheel_is_typed_and_requires_only_httpx(tmp_path: Path) -> None:
    missing = [name for name in ("pip", "setuptools", "wheel") if importlib.util.find_spec(name) is None]
    if missing and under_ci():
        pytest.fail(f"building the wheel needs {', '.join(missing)} (Debian: python3-pip python3-setuptools python3-wheel)")
    if missing:
        pytest.skip(f"building the wheel needs {', '.join(missing)} (Debian: python3-pip python3-setuptools python3-wheel)")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    shutil.copytree(PROJECT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
         "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr

    [wheel] = (tmp_path / "dist").glob("confirmation_gateway-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata_name] = [name for name in names if name.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    assert "confirmation_gateway/py.typed" in names
    assert {"confirmation_gateway/__init__.py", "confirmation_gateway/_flows.py"} <= set(names)
    assert not [name for name in names if name.startswith("tests/") or "__pycache__" in name]
    requires = metadata.get_all("Requires-Dist") or []
    assert [re.match(r"[A-Za-z0-9._-]+", requirement).group() for requirement in requires] == ["httpx"]  # type: ignore[union-attr]
    assert metadata["Requires-Python"] == ">=3.9"
