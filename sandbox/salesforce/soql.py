"""A small SOQL subset: tokenizer, recursive-descent parser and evaluator over the org's records.

Supported::

    SELECT field[, Parent.field ...] | COUNT() | COUNT(field)
    FROM Object
    [WHERE cond]       cond: a op value | a [NOT] IN (v, ...) | a [NOT] LIKE 'x%' | NOT cond | (cond)
                       joined by AND or OR (mixing both on one level needs parentheses, as in SOQL)
                       op: = != <> < <= > >=   value: 'string' number true false null 2024-01-01[T..Z]
    [ORDER BY a [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

String comparisons are case-insensitive and ids match in 15- or 18-character form, as in Salesforce.
Errors are :class:`SoqlError` with Salesforce's codes (MALFORMED_QUERY, INVALID_TYPE, INVALID_FIELD)
and its message layout (the query line, a caret, ``ERROR at Row:R:Column:C`` and the reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import schema
from .ids import to15
from .schema import DATA, FieldDef, ObjectDef

if TYPE_CHECKING:
    from .org import Org

WSDL_HINT = "Please reference your WSDL or the describe call for the appropriate names."
ID_PATTERN = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
# Fields every record of a polymorphic lookup ("Name" type, e.g. Case.Owner) exposes.
NAME_FIELDS = (
    "Id",
    "Name",
    "Type",
    "Alias",
    "Email",
    "FirstName",
    "LastName",
    "IsActive",
    "Username",
    "Title",
)


class SoqlError(Exception):
    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def _located(query: str, pos: int, text: str) -> str:
    """Salesforce's error layout: the offending line, a caret under the column, the position, the reason."""
    pos = max(0, min(pos, len(query)))
    line_start = query.rfind("\n", 0, pos) + 1
    line_end = query.find("\n", pos)
    line = query[line_start : line_end if line_end != -1 else len(query)]
    row = query.count("\n", 0, pos) + 1
    column = pos - line_start + 1
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{text}"


# --- tokens ------------------------------------------------------------------------------------


@dataclass
class Token:
    kind: str  # ident, string, number, datetime, date, op, '(', ')', ',', eof
    value: object
    pos: int
    text: str

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "ident" and str(self.value).upper() in words


_TOKEN_RULES = [
    ("space", re.compile(r"\s+")),
    ("datetime", re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})")),
    ("date", re.compile(r"\d{4}-\d{2}-\d{2}(?![\dT])")),
    ("number", re.compile(r"[-+]?\d+(\.\d+)?")),
    ("ident", re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")),
    ("op", re.compile(r"!=|<>|<=|>=|=|<|>")),
    ("punct", re.compile(r"[(),]")),
]
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        if query[pos] == "'":
            start, pos, chars = pos, pos + 1, []
            while True:
                if pos >= len(query):
                    raise SoqlError("MALFORMED_QUERY", _located(query, start, "unexpected token: '<EOF>'"))
                ch = query[pos]
                if ch == "\\" and pos + 1 < len(query):
                    escaped = query[pos + 1]
                    chars.append(_ESCAPES.get(escaped, "\\" + escaped))
                    pos += 2
                    continue
                if ch == "'":
                    pos += 1
                    break
                chars.append(ch)
                pos += 1
            tokens.append(Token("string", "".join(chars), start, query[start:pos]))
            continue
        for kind, pattern in _TOKEN_RULES:
            match = pattern.match(query, pos)
            if not match:
                continue
            text = match.group(0)
            if kind == "number":
                tokens.append(Token(kind, float(text) if "." in text else int(text), pos, text))
            elif kind == "datetime":
                tokens.append(Token(kind, _parse_datetime(text), pos, text))
            elif kind == "date":
                tokens.append(Token(kind, datetime.fromisoformat(text).replace(tzinfo=UTC), pos, text))
            elif kind == "punct":
                tokens.append(Token(text, text, pos, text))
            elif kind != "space":
                tokens.append(Token(kind, text, pos, text))
            pos = match.end()
            break
        else:
            raise SoqlError(
                "MALFORMED_QUERY",
                _located(query, pos, f"line 1:{pos} no viable alternative at character '{query[pos]}'"),
            )
    tokens.append(Token("eof", None, len(query), "<EOF>"))
    return tokens


def _parse_datetime(text: str) -> datetime:
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


# --- syntax tree -------------------------------------------------------------------------------


@dataclass
class FieldRef:
    path: list[str]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass
class Compare:
    field: FieldRef
    op: str  # =, !=, <, <=, >, >=, IN, NOT IN, LIKE
    value: object  # a literal, or a list of literals for IN
    value_tokens: list[Token]
    resolved: Resolved | None = None  # set when the query is checked against the schema


@dataclass
class Logical:
    op: str  # AND, OR, NOT
    items: list


@dataclass
class Order:
    field: FieldRef
    descending: bool = False
    nulls_first: bool | None = None


@dataclass
class Query:
    fields: list[FieldRef]
    count: FieldRef | bool | None  # True for COUNT(), a FieldRef for COUNT(field)
    sobject: str
    sobject_pos: int
    where: object | None = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


class Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def fail(self, token: Token | None = None):
        token = token or self.current
        raise SoqlError(
            "MALFORMED_QUERY", _located(self.query, token.pos, f"unexpected token: '{token.text}'")
        )

    def expect_keyword(self, *words: str) -> Token:
        if not self.current.is_keyword(*words):
            self.fail()
        return self.advance()

    def expect(self, kind: str) -> Token:
        if self.current.kind != kind:
            self.fail()
        return self.advance()

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        fields, count = self.select_list()
        self.expect_keyword("FROM")
        sobject = self.expect("ident")
        query = Query(fields, count, str(sobject.value), sobject.pos)
        if self.current.is_keyword("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.current.is_keyword("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            query.order = self.order_list()
        if self.current.is_keyword("LIMIT"):
            self.advance()
            query.limit = self.integer()
        if self.current.is_keyword("OFFSET"):
            self.advance()
            query.offset = self.integer()
        if self.current.kind != "eof":
            self.fail()
        return query

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
            self.fail()
        self.advance()
        return int(token.value)

    def select_list(self) -> tuple[list[FieldRef], FieldRef | bool | None]:
        if self.current.is_keyword("COUNT") and self.tokens[self.i + 1].kind == "(":
            self.advance()
            self.advance()
            counted: FieldRef | bool = True
            if self.current.kind == "ident":
                token = self.advance()
                counted = FieldRef(str(token.value).split("."), token.pos)
            self.expect(")")
            return [], counted
        fields = [self.field_ref()]
        while self.current.kind == ",":
            self.advance()
            fields.append(self.field_ref())
        return fields, None

    def field_ref(self) -> FieldRef:
        token = self.current
        if token.kind != "ident" or token.is_keyword("FROM", "WHERE", "SELECT"):
            self.fail()
        self.advance()
        return FieldRef(str(token.value).split("."), token.pos)

    def order_list(self) -> list[Order]:
        items = []
        while True:
            order = Order(self.field_ref())
            if self.current.is_keyword("ASC", "DESC"):
                order.descending = self.advance().is_keyword("DESC")
            if self.current.is_keyword("NULLS"):
                self.advance()
                order.nulls_first = self.expect_keyword("FIRST", "LAST").is_keyword("FIRST")
            items.append(order)
            if self.current.kind != ",":
                return items
            self.advance()

    # cond := term ((AND|OR) term)*, one connective per level
    def condition(self):
        items = [self.term()]
        connective = None
        while self.current.is_keyword("AND", "OR"):
            word = str(self.current.value).upper()
            if connective and word != connective:
                self.fail()
            connective = word
            self.advance()
            items.append(self.term())
        return items[0] if len(items) == 1 else Logical(connective, items)

    def term(self):
        if self.current.is_keyword("NOT"):
            self.advance()
            return Logical("NOT", [self.term()])
        if self.current.kind == "(":
            self.advance()
            inner = self.condition()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        ref = self.field_ref()
        if self.current.kind == "op":
            op = str(self.advance().value)
            op = "!=" if op == "<>" else op
            token = self.literal()
            return Compare(ref, op, token.value, [token])
        negated = False
        if self.current.is_keyword("NOT"):
            self.advance()
            negated = True
        if self.current.is_keyword("IN"):
            self.advance()
            self.expect("(")
            tokens = [self.literal()]
            while self.current.kind == ",":
                self.advance()
                tokens.append(self.literal())
            self.expect(")")
            return Compare(ref, "NOT IN" if negated else "IN", [t.value for t in tokens], tokens)
        if self.current.is_keyword("LIKE"):
            self.advance()
            token = self.literal()
            if token.kind != "string":
                self.fail(token)
            compare = Compare(ref, "LIKE", token.value, [token])
            return Logical("NOT", [compare]) if negated else compare
        self.fail()

    def literal(self) -> Token:
        token = self.current
        if token.kind in ("string", "number", "datetime", "date"):
            return self.advance()
        if token.is_keyword("TRUE", "FALSE", "NULL"):
            self.advance()
            value = {"TRUE": True, "FALSE": False, "NULL": None}[str(token.value).upper()]
            return Token("keyword", value, token.pos, token.text)
        self.fail()


def parse(query: str) -> Query:
    return Parser(query).parse()


# --- resolution against the schema -------------------------------------------------------------


@dataclass
class Resolved:
    """A field path checked against the schema: the lookups to follow, then the final field."""

    hops: list[FieldDef]  # reference fields to walk, in order
    target: FieldDef  # the field read on the last record
    polymorphic_end: bool = False  # the last hop lands on a "Name" record (e.g. Case.Owner)


class Evaluator:
    def __init__(self, org: Org, query_text: str, api: str = DATA) -> None:
        self.org = org
        self.text = query_text
        self.api = api

    def error(self, code: str, pos: int, reason: str) -> SoqlError:
        return SoqlError(code, _located(self.text, pos, reason))

    def resolve(self, obj: ObjectDef, ref: FieldRef) -> Resolved:
        path = list(ref.path)
        if len(path) > 1 and path[0].lower() == obj.name.lower():
            path = path[1:]  # "Case.Subject" in a query on Case
        hops: list[FieldDef] = []
        current: ObjectDef | None = obj
        entity = obj.name
        polymorphic = False
        for segment in path[:-1]:
            if current is None or polymorphic:
                raise self.error("INVALID_FIELD", ref.pos, self._no_relationship(segment))
            hop = current.relationship(segment)
            if hop is None:
                raise self.error("INVALID_FIELD", ref.pos, self._no_relationship(segment))
            hops.append(hop)
            polymorphic = hop.polymorphic
            entity = "Name" if polymorphic else hop.reference_to[0]
            current = None if polymorphic else schema.OBJECTS.get(entity)
        last = path[-1]
        if polymorphic:
            match = next((n for n in NAME_FIELDS if n.lower() == last.lower()), None)
            if match is None:
                raise self.error("INVALID_FIELD", ref.pos, self._no_column(last, "Name"))
            return Resolved(hops, FieldDef(match), polymorphic_end=True)
        if current is None:
            if last.lower() in ("id", "name"):
                return Resolved(hops, FieldDef("Id" if last.lower() == "id" else "Name"))
            raise self.error("INVALID_FIELD", ref.pos, self._no_column(last, entity))
        target = current.field(self.org, last)
        if target is None:
            raise self.error("INVALID_FIELD", ref.pos, self._no_column(last, entity))
        return Resolved(hops, target)

    @staticmethod
    def _no_column(name: str, entity: str) -> str:
        return (
            f"No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, "
            f"be sure to append the '__c' after the custom field name. {WSDL_HINT}"
        )

    @staticmethod
    def _no_relationship(name: str) -> str:
        return (
            f"Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
            f"relationship, be sure to append the '__r' after the custom relationship name. {WSDL_HINT}"
        )

    def read(self, row: dict | None, resolved: Resolved):
        for hop in resolved.hops:
            if row is None:
                return None
            row = self._follow(row, hop)
        if row is None:
            return None
        if resolved.polymorphic_end and resolved.target.name == "Type":
            # A "Name" record's Type is its object, except that queues say "Queue" (not "Group").
            found = self.org.records.find(row["Id"])
            if found is None:
                return None
            return row.get("Type") if found[0] == "Group" else found[0]
        return row.get(resolved.target.name)

    def _follow(self, row: dict, hop: FieldDef) -> dict | None:
        target_id = row.get(hop.name)
        if not target_id or not isinstance(target_id, str):
            return None
        found = self.org.records.find(target_id)
        return found[1] if found else None

    # --- filters ---

    def check_condition(self, obj: ObjectDef, node) -> None:
        """Validate field names and literal types before any row is read (Salesforce fails fast too)."""
        if isinstance(node, Logical):
            for item in node.items:
                self.check_condition(obj, item)
            return
        resolved = self.resolve(obj, node.field)
        node.resolved = resolved
        for token in node.value_tokens:
            self._check_literal(resolved.target, node.field, token)

    def _check_literal(self, target: FieldDef, ref: FieldRef, token: Token) -> None:
        value = token.value
        if value is None:
            return
        kind = target.type
        if kind in ("id", "reference"):
            if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
                raise self.error("MALFORMED_QUERY", token.pos, f"invalid ID field: {token.value}")
            return
        expected = {
            "boolean": (bool, "boolean"),
            "int": ((int, float), "integer"),
            "double": ((int, float), "double"),
            "datetime": (datetime, "dateTime"),
        }.get(kind)
        if expected:
            types, label = expected
            if not isinstance(value, types) or (label != "boolean" and isinstance(value, bool)):
                raise self.error(
                    "INVALID_FIELD",
                    token.pos,
                    f"value of filter criterion for field '{target.name}' must be of type {label} "
                    f"and should not be enclosed in quotes",
                )
            return
        if not isinstance(value, str):
            raise self.error(
                "INVALID_FIELD",
                token.pos,
                f"value of filter criterion for field '{target.name}' must be of type string "
                f"and should be enclosed in quotes",
            )

    def matches(self, row: dict, node) -> bool:
        if isinstance(node, Logical):
            if node.op == "NOT":
                return not self.matches(row, node.items[0])
            results = (self.matches(row, item) for item in node.items)
            return all(results) if node.op == "AND" else any(results)
        actual = self.read(row, node.resolved)
        kind = node.resolved.target.type
        if node.op in ("IN", "NOT IN"):
            hit = any(_equal(actual, v, kind) for v in node.value)
            return hit if node.op == "IN" else not hit
        if node.op == "=":
            return _equal(actual, node.value, kind)
        if node.op == "!=":
            return not _equal(actual, node.value, kind)
        if node.op == "LIKE":
            return actual is not None and _like(str(actual), str(node.value))
        if actual is None or node.value is None:
            return False
        left, right = _comparable(actual, kind), _comparable(node.value, kind)
        try:
            return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[node.op]
        except TypeError:
            return False

    # --- the query ---

    def run(self, query: Query, version: str) -> tuple[int, list[dict]]:
        """(totalSize, records in REST shape) for a parsed query."""
        obj = schema.lookup(query.sobject, self.api)
        if obj is None:
            raise self.error(
                "INVALID_TYPE",
                query.sobject_pos,
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom "
                f"object, be sure to append the '__c' after the entity name. {WSDL_HINT}",
            )
        selected = []
        seen = set()
        for ref in query.fields:
            resolved = self.resolve(obj, ref)
            key = ".".join([h.relationship_name for h in resolved.hops] + [resolved.target.name]).lower()
            if key in seen:
                raise self.error("MALFORMED_QUERY", ref.pos, f"duplicate field selected: {ref.text}")
            seen.add(key)
            selected.append(resolved)
        counted = self.resolve(obj, query.count) if isinstance(query.count, FieldRef) else None
        if query.where is not None:
            self.check_condition(obj, query.where)
        orders = [(self.resolve(obj, o.field), o) for o in query.order]

        rows = [r for r in obj.all_rows(self.org) if query.where is None or self.matches(r, query.where)]
        for resolved, order in reversed(orders):
            rows = _sorted(rows, lambda r, res=resolved: self.read(r, res), resolved.target.type, order)
        if query.offset:
            rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]

        if query.count is True:
            return len(rows), []
        if counted is not None:
            total = sum(1 for r in rows if self.read(r, counted) is not None)
            return 1, [{"attributes": {"type": "AggregateResult"}, "expr0": total}]
        return len(rows), [self.shape(obj.name, row, selected, version) for row in rows]

    def record_url(self, sobject: str, record_id: str, version: str) -> str:
        tooling = "tooling/" if self.api != DATA else ""
        return f"/services/data/v{version}/{tooling}sobjects/{sobject}/{record_id}"

    def shape(self, sobject: str, row: dict, selected: list[Resolved], version: str) -> dict:
        record = {"attributes": {"type": sobject, "url": self.record_url(sobject, row["Id"], version)}}
        for resolved in selected:
            node, current = record, row
            for hop in resolved.hops:
                name = hop.relationship_name
                if name in node and node[name] is None:
                    break
                if name not in node:
                    parent = self._follow(current, hop) if current is not None else None
                    if parent is None:
                        node[name] = None
                        break
                    found = self.org.records.find(parent["Id"])
                    parent_type = found[0] if found else hop.reference_to[0]
                    node[name] = {
                        "attributes": {
                            "type": "Name" if hop.polymorphic else parent_type,
                            "url": self.record_url(parent_type, parent["Id"], version),
                        }
                    }
                    node[name]["_row"] = parent
                node, current = node[name], node[name]["_row"]
            else:
                node[resolved.target.name] = self.read(
                    current, Resolved([], resolved.target, resolved.polymorphic_end)
                )
        _strip_rows(record)
        return record


def _strip_rows(record: dict) -> None:
    for value in record.values():
        if isinstance(value, dict) and "attributes" in value:
            value.pop("_row", None)
            _strip_rows(value)


def _equal(actual, literal, kind: str) -> bool:
    if literal is None or actual is None:
        return literal is None and actual is None
    if kind in ("id", "reference"):
        return isinstance(actual, str) and to15(actual) == to15(str(literal))
    if isinstance(literal, str) and isinstance(actual, str):
        return actual.lower() == literal.lower()
    if isinstance(literal, datetime):
        return _comparable(actual, "datetime") == literal
    return actual == literal


def _comparable(value, kind: str):
    if isinstance(value, str) and kind in ("datetime", "date"):
        try:
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return value
    if isinstance(value, str):
        return value.lower()
    return value


def _like(value: str, pattern: str) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


def _sorted(rows: list[dict], key, kind: str, order: Order) -> list[dict]:
    nulls_first = order.nulls_first if order.nulls_first is not None else not order.descending
    present = [r for r in rows if key(r) is not None]
    missing = [r for r in rows if key(r) is None]
    present.sort(key=lambda r: _comparable(key(r), kind), reverse=order.descending)
    return missing + present if nulls_first else present + missing


def execute(org: Org, query_text: str, *, api: str = DATA, version: str = "62.0") -> tuple[int, list[dict]]:
    """Parse and run a query: (totalSize, records). Raises :class:`SoqlError`."""
    return Evaluator(org, query_text, api).run(parse(query_text), version)
