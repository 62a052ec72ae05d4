"""Jinja2 templates for the sandbox's own pages (agent console, phone, Canvas launcher)."""

from pathlib import Path

from starlette.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
