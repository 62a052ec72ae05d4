"""Customer text in SOQL (relay/desks/cases_api.py): whatever a customer's number, name or first message
holds, :func:`literal` makes it one string literal that reads back as the same text - nothing in it can
end the literal and add a condition (SOQL injection). Read with the sandbox's tokenizer, which follows the
escape sequences of the SOQL reference ("Quoted String Escape Sequences")."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from relay.desks.cases_api import literal
from sandbox.salesforce.soql import tokenize

# Any code point but lone surrogates (the REST client sends UTF-8) and NUL (never stored, untrusted.py).
TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=60)


@settings(max_examples=500, deadline=None)
@given(value=TEXT | st.sampled_from(["' OR Id != '", "\\' OR Name LIKE '%", "\\", "'", "\\\\'", "+1' --"]))
def test_any_text_is_one_soql_string_that_reads_back_as_itself(value):
    tokens = tokenize(f"SELECT Id FROM Contact WHERE MobilePhone = {literal(value)} ORDER BY CreatedDate")
    strings = [t for t in tokens if t.kind == "string"]
    assert len(strings) == 1 and strings[0].value == value
    after = [(t.kind, t.text) for t in tokens[tokens.index(strings[0]) + 1 :]]
    assert after == [(t.kind, t.text) for t in tokenize("ORDER BY CreatedDate")]  # nothing added
