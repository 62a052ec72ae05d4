"""Which unique constraint an IntegrityError violated: only a constraint's own violation is a duplicate.

Every other IntegrityError (a NOT NULL, a CHECK such as SQLite's JSON validity, a foreign key) is an
error that must surface, never be counted as "already stored" and dropped.
"""

from __future__ import annotations

from django.db import IntegrityError, models

UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


def violates(exc: IntegrityError, model: type[models.Model], constraint: str) -> bool:
    """Whether ``exc`` is the violation of ``model``'s unique constraint named ``constraint``."""
    columns = _columns(model, constraint)  # a misspelt name fails on every database, not only on SQLite
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None:  # PostgreSQL (psycopg) names the constraint
        return getattr(cause, "sqlstate", None) == UNIQUE_VIOLATION and diag.constraint_name == constraint
    # SQLite names the columns: "UNIQUE constraint failed: relay_message.tenant_id, relay_message.provider, …"
    named = ", ".join(f"{model._meta.db_table}.{column}" for column in columns)
    return str(exc) == f"UNIQUE constraint failed: {named}"


def _columns(model: type[models.Model], constraint: str) -> list[str]:
    for candidate in model._meta.constraints:
        if candidate.name == constraint and isinstance(candidate, models.UniqueConstraint):
            return [_column(model, name) for name in candidate.fields]
    raise LookupError(f"{model.__name__} has no unique constraint {constraint!r}")


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    # Django's system checks only accept concrete fields (which have a column) in a unique constraint.
    if not isinstance(field, models.Field) or field.column is None:
        raise LookupError(f"{model.__name__}.{name} has no column")
    return field.column
