"""Redaction: the fast clean-value check scrubs exactly what the plain walk scrubs."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.redaction import REDACTED, Redactor

SECRETS = ("s3cr3t-token-value", "p\u00e4ssw\u00f6rd-\u00fc\u00f1\u00efcode", 'quote"back\\slash')
REDACTOR = Redactor(SECRETS)
#: The same secrets, every value walked (the plain path).
PLAIN = Redactor(SECRETS, fast=False)

KEYS = st.sampled_from(
    [
        "id",
        "name",
        "uri",
        "token",
        "Token",
        "TOKEN\n",
        "token\n\n",
        "next_page_token",
        "access_token",
        "Authorization",
        "set-cookie",
        "secret",
        "\u017fecret",  # long s: (?i) matches it to "s"
        "to\u212aen",  # Kelvin sign: (?i) matches it to "k"
        "authori\u0131ation",  # dotless i
        "\u0130\u0131",
        "api_key",
        "apikey",
        "signingKey",
        "password",
        "passwords",
        "na\u00efve",
        "",
    ]
)
TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(SECRETS),
    st.builds(
        lambda a, s, b: a + s + b,
        st.text(max_size=4),
        st.sampled_from(SECRETS),
        st.text(max_size=4),
    ),
)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)


def _lists(value: Any) -> Any:
    """``value`` with tuples as lists (what a scrubbed copy holds)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


@settings(max_examples=400)
@given(st.dictionaries(KEYS, VALUES, max_size=5) | st.lists(VALUES, max_size=4))
def test_value_scrubs_exactly_what_the_walk_scrubs(value: Any) -> None:
    quick = REDACTOR.value(value)
    walked = PLAIN.value(value)
    assert _lists(quick) == walked
    if quick is value:  # returned untouched: the walk changed nothing either
        assert _lists(value) == walked


#: Secrets of any text (the fast check searches their UTF-8 bytes), some short enough to ignore.
RANDOM_SECRETS = st.lists(st.text(min_size=4, max_size=10), max_size=8)


@settings(max_examples=150)
@given(RANDOM_SECRETS, st.data())
def test_random_secrets_are_scrubbed_as_the_plain_walk_scrubs_them(
    secrets: list[str], data: st.DataObject
) -> None:
    fast, plain = Redactor(secrets), Redactor(secrets, fast=False)
    text = TEXT
    if secrets:  # strings holding the drawn secrets, alone or inside other text
        text |= st.builds(
            lambda a, s, b: a + s + b,
            st.text(max_size=3),
            st.sampled_from(secrets),
            st.text(max_size=3),
        )
    leaves = st.none() | st.booleans() | st.integers() | text
    values = st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.lists(inner, max_size=3).map(tuple)
            | st.dictionaries(KEYS | text, inner, max_size=4)
        ),
        max_leaves=20,
    )
    value = data.draw(st.dictionaries(KEYS | text, values, max_size=5) | st.lists(values))
    assert _lists(fast.value(value)) == plain.value(value)
    more = data.draw(RANDOM_SECRETS)
    fast.add(more)
    plain.add(more)
    assert _lists(fast.value(value)) == plain.value(value)


def test_secret_keys_and_strings_are_scrubbed() -> None:
    value = {
        "a": [{"Token": "x"}, {"note": f"key {SECRETS[0]}!"}],
        "\u017fecret": "y",
        "token\n": "z",
        "empty": {"password": ""},
    }
    assert REDACTOR.value(value) == {
        "a": [{"Token": REDACTED}, {"note": f"key {REDACTED}!"}],
        "\u017fecret": REDACTED,
        "token\n": REDACTED,
        "empty": {"password": ""},
    }


def test_clean_values_are_returned_as_they_are() -> None:
    value = {"data": [{"uri": "https://x/1", "n": 1, "ok": True, "tags": ("a", "b")}]}
    assert REDACTOR.value(value) is value
    assert Redactor().value(value) is value


def test_values_marshal_cannot_hold_are_walked() -> None:
    class Opaque:
        pass

    thing = Opaque()
    value = OrderedDict(a=[thing, SECRETS[0]])
    out = REDACTOR.value(value)
    assert type(out) is dict
    assert out == {"a": [thing, REDACTED]}
    assert REDACTOR.value((1, "x")) == [1, "x"]


def test_many_secrets() -> None:
    many = Redactor([f"secret-number-{i:03d}" for i in range(40)])
    value = {"x": ["a", {"y": "has secret-number-017 in it"}]}
    assert many.value(value) == {"x": ["a", {"y": f"has {REDACTED} in it"}]}
    assert many.value({"x": ["secret-number-1"]}) == {"x": ["secret-number-1"]}


@settings(max_examples=60)
@given(st.lists(VALUES, min_size=1, max_size=4), st.integers(0, 700), st.data())
def test_large_values_are_checked_in_parts(pool: list[Any], size: int, data: st.DataObject) -> None:
    items = [pool[i % len(pool)] for i in range(size)]
    shape = data.draw(st.sampled_from(["list", "data", "wide", "nested"]))
    value: Any
    if shape == "list":
        value = items
    elif shape == "data":
        value = {"data": items, "next_page_token": data.draw(KEYS)}
    elif shape == "wide":
        value = {f"k{i}": item for i, item in enumerate(items)}
    else:
        value = {"data": {"collection": [items, {"Token": "x"} if size % 2 else {}]}}
    quick = REDACTOR.value(value)
    assert _lists(quick) == PLAIN.value(value)


def test_one_secret_among_many_items() -> None:
    items: list[Any] = [{"uri": f"https://x/{i}", "n": i} for i in range(1000)]
    items[777] = {"uri": f"https://x/{SECRETS[0]}"}
    value = {"data": items, "pagination": {"count": 1000}}
    out = REDACTOR.value(value)
    assert out["data"][777] == {"uri": f"https://x/{REDACTED}"}
    assert out["data"][:777] == items[:777]
    items[777] = {"uri": "https://x/777", "signing_key": "k"}
    assert REDACTOR.value(value)["data"][777]["signing_key"] == REDACTED
    items[777] = {"uri": "https://x/777"}
    assert REDACTOR.value(value) is value


def test_a_flag_named_secret_is_data_not_a_credential() -> None:
    from runtime.redaction import Redactor

    redactor = Redactor(["a-real-secret-value"])
    event_type = {"resource": {"secret": True, "name": "Hidden", "token": "a-real-secret-value"}}
    assert redactor.value(event_type) == {
        "resource": {"secret": True, "name": "Hidden", "token": "[redacted]"}
    }
