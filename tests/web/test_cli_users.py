"""``cpbridge directory users add|list|unlock|reset-totp``."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from cpbridge.directory.commands_web import register


def _app() -> typer.Typer:
    from cpbridge.cli import app

    register(app)
    return app


def test_users_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("CPBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CPBRIDGE_DIRECTORY__DATABASE_URL", f"sqlite:///{tmp_path / 'd.db'}")
    app, runner = _app(), CliRunner()
    add = ["directory", "users", "add", "pat", "--name", "Pat Jones", "--organisation", "Leeds City Council",
           "--local-authority", "E08000035", "--role", "practitioner", "--role", "shield_override"]  # fmt: skip
    r = runner.invoke(app, add, input="a long enough password\na long enough password\n4821\n4821\n")
    assert r.exit_code == 0, r.output
    uri = re.search(r"otpauth://totp/\S+", r.output).group(0)
    assert "secret=" in uri and "issuer=" in uri
    r = runner.invoke(app, add, input="a long enough password\na long enough password\n4821\n4821\n")
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(app, ["directory", "users", "list"])
    assert "pat\tPat Jones" in r.output and "practitioner,shield_override" in r.output and "secret" not in r.output
    r = runner.invoke(app, ["directory", "users", "unlock", "pat"])
    assert r.exit_code == 0 and "unlocked" in r.output
    r = runner.invoke(app, ["directory", "users", "reset-totp", "pat"])
    new_uri = re.search(r"otpauth://totp/\S+", r.output).group(0)
    assert new_uri != uri
    r = runner.invoke(app, ["directory", "users", "unlock", "nobody"])
    assert r.exit_code == 1 and "no account" in r.output
    short = runner.invoke(app, [*add[:3], "sam", *add[4:]], input="short\nshort\n4821\n4821\n")
    assert short.exit_code == 1 and "at least 12" in short.output
