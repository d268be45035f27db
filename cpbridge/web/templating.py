"""Jinja2 templates: this package's pages, with the GOV.UK Frontend macros (govuk-frontend-jinja).

Templates import the macros as ``govuk_frontend_jinja/components/<name>/macro.html``.
Autoescaping is on for every template.
"""

from __future__ import annotations

from datetime import date, datetime

from jinja2 import (
    ChoiceLoader,
    Environment,
    PackageLoader,
    PrefixLoader,
    select_autoescape,
)
from starlette.responses import HTMLResponse

from cpbridge.codes import (
    SERVICE_LABELS,
    Gender,
    Relationship,
    Role,
    Service,
    SettingKind,
)

#: Where the vendored GOV.UK Frontend and this package's own static files are served.
STATIC = "/web/static"


def _date(value: date | datetime | None) -> str:
    """GOV.UK style: 5 January 2014."""
    if value is None:
        return ""
    return f"{value.day} {value.strftime('%B %Y')}"


def _label(value) -> str:
    """A code's label: services from SERVICE_LABELS, other codes humanised."""
    if isinstance(value, Service):
        return SERVICE_LABELS[value]
    text = getattr(value, "value", str(value))
    return text.replace("_", " ").capitalize()


def make_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("cpbridge.web", "templates"),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja", "templates")}),
            ]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["govuk_date"] = _date
    env.filters["label"] = _label
    env.globals.update(static=STATIC, Gender=Gender, Relationship=Relationship, Role=Role, SettingKind=SettingKind)
    return env


class Templates:
    """Renders a template to an HTML response."""

    def __init__(self) -> None:
        self.env = make_environment()

    def render(self, name: str, status_code: int = 200, **context) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code)
