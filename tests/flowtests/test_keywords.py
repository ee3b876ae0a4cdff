"""``-k``: pytest's keyword expressions over a case's FILE::NAME."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import ConfigurationError
from runtime.flowtests.keywords import keyword_matcher

NAME = "flows/tests/test_booking.yaml::a Cancellation is followed up"


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        ("booking", True),
        ("CANCELLATION", True),
        ("booking and routing", False),
        ("booking and not routing", True),
        ("routing or (cancellation and followed)", True),
        ("not (booking or routing)", False),
        ("not not booking", True),
    ],
)
def test_words_and_or_not_and_parentheses(expression: str, matches: bool) -> None:
    assert keyword_matcher(expression)(NAME) is matches


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "an empty expression"),
        ("a and", "ends too early"),
        ("(a or b", "a ( without its )"),
        ("a b", "unexpected 'b'"),
        ("or a", "unexpected 'or'"),
        (")", "unexpected ')'"),
    ],
)
def test_a_malformed_expression_says_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        keyword_matcher(expression)
    assert str(caught.value) == f"-k {expression!r}: {message}"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "b", "and", "or", "not", "(", ")", "booking", " "]), max_size=12
    ).map(" ".join)
)
def test_any_expression_is_a_matcher_or_a_configuration_error(expression: str) -> None:
    try:
        matcher = keyword_matcher(expression)
    except ConfigurationError as exc:
        assert str(exc).startswith("-k ")
    else:
        assert matcher(NAME) in (True, False)
