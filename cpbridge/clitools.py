"""Helpers for modules that add commands to the ``cpbridge`` command line."""

from __future__ import annotations

import typer


def group(app: typer.Typer, name: str, help: str | None = None) -> typer.Typer:
    """The sub-app ``name`` of ``app``, added (with ``help``) if it is not there yet."""
    for registered in app.registered_groups:
        if registered.name == name and registered.typer_instance is not None:
            return registered.typer_instance
    sub = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def has_group(app: typer.Typer, name: str) -> bool:
    return any(registered.name == name for registered in app.registered_groups)
