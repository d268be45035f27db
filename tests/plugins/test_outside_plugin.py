"""A plugin from outside the project: its own package, found through the ``cpbridge`` entry points.

The test writes a tiny distribution (its own pyproject.toml, an entry point in group ``cpbridge``
declaring a new system type and a ``message_to_events`` hook), pip-installs it into this venv,
checks in a fresh interpreter that ``make_plugin_manager()`` and ``cpbridge plugins`` pick it up and
that its hook turns a message into canonical events, and uninstalls it whatever happens.

It runs offline and everywhere CI runs (no skip condition, no network: ``--no-index``,
``--no-build-isolation``). The package builds with a ten-line in-tree PEP 517 backend rather
than setuptools, because setuptools before 70.1 cannot build a wheel without the separate
``wheel`` package, which a test venv need not have; what is under test is discovery, not
packaging tools.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DIST = "cpbridge-outside-demo"
MODULE = "cpbridge_outside_demo"
ENTRY_POINT = "outside_demo"
SYSTEM_TYPE = "outsidedemo"

PYPROJECT = f"""
[build-system]
requires = []
build-backend = "inline_backend"
backend-path = ["."]

[project]
name = "{DIST}"
version = "0.1.0"
description = "A cpbridge plugin maintained outside the project (test fixture)"
requires-python = ">=3.11"

[project.entry-points.cpbridge]
{ENTRY_POINT} = "{MODULE}"
"""

# A minimal PEP 517 backend: a pure-Python wheel of the one package, with the entry points
# read from pyproject.toml, so the installed distribution is exactly what the file declares.
BACKEND = '''
import base64, hashlib, tomllib, zipfile
from pathlib import Path

def _project():
    return tomllib.loads(Path("pyproject.toml").read_text())["project"]

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    p = _project()
    stem = f"{p['name'].replace('-', '_')}-{p['version']}"
    info = f"{stem}.dist-info"
    files = {f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {p['name']}\\nVersion: {p['version']}\\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: inline_backend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
             f"{info}/entry_points.txt": "".join(
                 f"[{group}]\\n" + "".join(f"{k} = {v}\\n" for k, v in eps.items())
                 for group, eps in p.get("entry-points", {}).items())}
    for path in sorted(Path(p["name"].replace("-", "_")).rglob("*.py")):
        files[path.as_posix()] = path.read_text()
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\\n".join(record + [f"{info}/RECORD,,"]) + "\\n"
    wheel = f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel
'''

PLUGIN = f'''
"""An outside plugin: a new kind of local system with a message the mapping language cannot express."""
from cpbridge import SystemType, hookimpl
from cpbridge.model import InvolvementClosed, event_id_for

@hookimpl
def register_system_types():
    return [SystemType(name="{SYSTEM_TYPE}", title="Outside demo system", plugin="{ENTRY_POINT}")]

@hookimpl
def message_to_events(system, root, message_id):
    if system.type != "{SYSTEM_TYPE}" or root.tag != "Closed":
        return None
    return [InvolvementClosed(
        event_id=event_id_for(system.id, message_id, 0),
        source_system=system.id,
        occurred_at=root.get("at"),
        child={{"given_names": root.get("given"), "family_name": root.get("family"), "date_of_birth": root.get("dob"),
               "identifiers": [{{"scheme": "local", "system": system.id, "value": root.get("child")}}]}},
        local_reference=root.get("ref"),
        end_date=root.get("on"),
    )]
'''

CHECK = f'''
import json
from cpbridge.plugins import describe, make_plugin_manager
from cpbridge.systems import LocalSystem
from cpbridge.xmlsafe import parse_xml

pm = make_plugin_manager()
plugin = [p for p in describe(pm) if p["name"] == "{ENTRY_POINT}"]
types = {{t.name: t.plugin for batch in pm.hook.register_system_types() for t in batch}}
system = LocalSystem(id="outside", type="{SYSTEM_TYPE}", product="Demo")
message = b'<Closed child="D-1" given="Ruby" family="Stone" dob="2013-04-02" ref="X-9" on="2024-06-30" at="2024-06-30T12:00:00Z"/>'
events = pm.hook.message_to_events(system=system, root=parse_xml(message), message_id="m-1")
print(json.dumps({{"plugin": plugin, "types": types, "events": [e.wire() for e in events or []]}}))
'''


def _run(args: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1", "COLUMNS": "300", **env}
    return subprocess.run(args, check=False, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=180)


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "pip", *args], cwd)


@pytest.fixture
def outside_package(tmp_path) -> Path:
    root = tmp_path / "outside-plugin"
    (root / MODULE).mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (root / "inline_backend.py").write_text(textwrap.dedent(BACKEND))
    (root / MODULE / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    return root


def test_an_installed_outside_plugin_is_picked_up(outside_package, tmp_path):
    assert _pip("show", DIST, cwd=tmp_path).returncode != 0, f"{DIST} is already installed; a previous run left it behind"
    installed = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(outside_package), cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    try:
        found = _run([sys.executable, "-c", CHECK], tmp_path)
        assert found.returncode == 0, found.stderr
        out = json.loads(found.stdout)
        (plugin,) = out["plugin"]
        assert (plugin["module"], plugin["package"], plugin["version"]) == (MODULE, DIST, "0.1.0")
        assert plugin["hooks"] == ["message_to_events", "register_system_types"]
        assert out["types"][SYSTEM_TYPE] == ENTRY_POINT and out["types"]["ics"] == "ics"  # alongside the built-ins
        (event,) = out["events"]
        assert event["type"] == "involvement_closed" and event["sourceSystem"] == "outside"
        assert (event["localReference"], event["endDate"]) == ("X-9", "2024-06-30")
        assert event["child"]["identifier"] == [{"scheme": "local", "value": "D-1", "system": "outside"}]

        empty = tmp_path / "no-mappings"
        empty.mkdir()
        cli = _run([sys.executable, "-c", "from cpbridge.cli import main; main()", "plugins"], tmp_path,
                   CPBRIDGE_ADAPTER__MAPPINGS_DIR=str(empty))
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert ENTRY_POINT in cli.stdout and MODULE in cli.stdout and f"{DIST} 0.1.0" in cli.stdout
    finally:
        removed = _pip("uninstall", "-y", DIST, cwd=tmp_path)
        assert removed.returncode == 0, removed.stdout + removed.stderr
    gone = _run([sys.executable, "-c", CHECK], tmp_path)
    assert gone.returncode == 0 and json.loads(gone.stdout)["plugin"] == [], gone.stderr
