"""The package as it is built and installed: folders it finds, metadata, licence and lock file.

`.ci/wheel-smoke` builds the real wheel, installs it outside the tree and serves from it; these
tests keep the declarations it relies on honest without building anything.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import survey

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
LOCK_LINE = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")


def _locked() -> dict[str, tuple[str, str]]:
    """Return the lock file's pins: name -> (version, the pin's whole entry)."""
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, tuple[str, str]] = {}
    for entry in re.split(r"\n(?=\S)", text):
        match = LOCK_LINE.match(entry)
        if match:
            pins[canonicalize_name(match[1])] = (match[2], entry)
    return pins


def test_templates_and_static_come_from_the_package_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = survey.resource_folder("templates")
    assert source == str(ROOT / "templates")  # this checkout
    (tmp_path / "templates").mkdir()
    monkeypatch.setattr(survey, "PACKAGE_DIR", str(tmp_path))
    assert survey.resource_folder("templates") == str(tmp_path / "templates")
    assert survey.resource_folder("static") == str(ROOT / "static")


def test_the_wheel_maps_templates_and_static_into_the_package() -> None:
    wheel = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["survey"]
    assert wheel["force-include"] == {"templates": "survey/templates", "static": "survey/static"}
    assert (ROOT / "survey" / "wsgi.py").exists()


def test_instance_path_is_never_beside_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert survey.default_instance_path({}) == str(tmp_path / "instance")
    assert survey.default_instance_path({"CANDOR_INSTANCE_PATH": "/srv/c"}) == "/srv/c"
    assert survey.default_instance_path({"CANDOR_INSTANCE_PATH": "rel"}) == str(tmp_path / "rel")


def test_licence_is_the_agpl_with_an_spdx_expression() -> None:
    assert PROJECT["license"] == "AGPL-3.0-or-later"
    assert PYPROJECT["build-system"]["requires"] == ["hatchling>=1.27"]
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in text and "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) == 661  # the FSF's text, whole


def test_postgresql_driver_is_an_extra_the_tests_pull_in() -> None:
    core = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]}
    assert "psycopg" not in core
    extras = PROJECT["optional-dependencies"]
    assert [Requirement(r).name for r in extras["postgresql"]] == ["psycopg"]
    assert Requirement(extras["postgresql"][0]).extras == {"binary"}
    assert "candor[postgresql]" in extras["test"]


def test_lock_file_pins_every_requirement_with_hashes() -> None:
    """A dependency added to pyproject.toml without re-locking fails here (see the README)."""
    pins = _locked()
    declared = [
        Requirement(r)
        for r in PROJECT["dependencies"]
        + PROJECT["optional-dependencies"]["test"]
        + PROJECT["optional-dependencies"]["postgresql"]
    ]
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        if name == "candor":
            continue
        assert name in pins, f"{name} is not in requirements.lock: re-lock (README)"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)
        for extra in requirement.extras:  # psycopg[binary] -> psycopg-binary
            assert canonicalize_name(f"{name}-{extra}") in pins, f"{name}[{extra}]"
    unhashed = [name for name, (_, entry) in pins.items() if "--hash=sha256:" not in entry]
    assert not unhashed
