"""Calendly-Webhook-Signature: Calendly's published test vector, tolerance and rejection reasons."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.calendly.sandbox import sign as sandbox_sign
from components.calendly.signature import (
    DEFAULT_TOLERANCE,
    SignatureError,
    compute,
    parse,
    sign,
    verify,
)

KEY = "test-signing-key"
BODY = (
    b'{"event":"invitee.created","created_at":"2023-11-14T22:13:20.000000Z",'
    b'"created_by":"https://api.calendly.com/users/AAAA","payload":{}}'
)
T = 1700000000
V1 = "47c138ca48752c11e8f39a50f3dc507d64cbd4ce21b2739c54d669393ef8d0d3"


def test_a_fixed_vector_signs_and_verifies() -> None:
    assert compute(KEY, T, BODY) == V1
    assert sign(KEY, T, BODY) == f"t={T},v1={V1}"
    assert verify(KEY, f"t={T},v1={V1}", BODY, now=T + 5) == T


def test_matches_the_sandbox_signer() -> None:
    assert sign(KEY, T, BODY) == sandbox_sign(KEY, T, BODY)


def test_default_tolerance_is_three_minutes() -> None:
    assert DEFAULT_TOLERANCE == 180
    header = sign(KEY, T, BODY)
    verify(KEY, header, BODY, now=T + 180)
    verify(KEY, header, BODY, now=T - 180)
    with pytest.raises(SignatureError, match="stale or replayed"):
        verify(KEY, header, BODY, now=T + 181)
    with pytest.raises(SignatureError, match="tolerance 10 s"):
        verify(KEY, header, BODY, now=T + 11, tolerance=10)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Calendly-Webhook-Signature header"),
        ("", "missing Calendly-Webhook-Signature header"),
        ("garbage", "malformed signature header"),
        (f"v1={V1}", "no timestamp"),
        (f"t={T}", "no v1 signature"),
        (f"t=abc,v1={V1}", "bad timestamp"),
        (f"t={T},t={T},v1={V1}", "bad timestamp"),
        (f"t={T},v1={'0' * 64}", "does not match"),
        (f"t={T},v1=not-hex", "does not match"),
        (f"t={T + 1},v1={V1}", "does not match"),  # timestamp is part of the signed message
        ("t=1," + "v1=a," * 1000, "too long"),
    ],
)
def test_rejections_say_why(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(KEY, header, BODY, now=T)


def test_the_exact_bytes_are_verified_not_reserialised_json() -> None:
    header = sign(KEY, T, BODY)
    spaced = BODY.replace(b'","', b'", "')  # same JSON, other bytes
    with pytest.raises(SignatureError, match="does not match"):
        verify(KEY, header, spaced, now=T)


def test_wrong_key_and_missing_key() -> None:
    header = sign(KEY, T, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify("other-key", header, BODY, now=T)
    with pytest.raises(SignatureError, match="no signing key"):
        verify("", header, BODY, now=T)


def test_any_of_several_v1_signatures_may_match_and_unknown_schemes_are_ignored() -> None:
    header = f"t={T},v0=abc,v1={'1' * 64},v1={V1.upper()}"
    assert verify(KEY, header, BODY, now=T) == T
    assert parse(f" t={T} , v1={V1} ") == (T, [V1])


def test_a_non_finite_clock_never_passes_the_tolerance_check() -> None:
    with pytest.raises(SignatureError, match="stale"):
        verify(KEY, sign(KEY, T, BODY), BODY, now=float("nan"))


@given(key=st.text(min_size=1), body=st.binary(), timestamp=st.integers(0, 10**11))
def test_sign_then_verify_round_trips(key: str, body: bytes, timestamp: int) -> None:
    assert verify(key, sign(key, timestamp, body), body, now=timestamp) == timestamp


@given(header=st.text(), body=st.binary())
def test_arbitrary_headers_only_ever_raise_signature_error(header: str, body: bytes) -> None:
    with contextlib.suppress(SignatureError):
        verify(KEY, header, body, now=T)
