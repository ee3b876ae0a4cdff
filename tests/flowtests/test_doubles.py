"""Fixtures, the only doubles: a step's outcome replaced by step id (its inputs still rendered
and checked), one request answered here by method and path (the rest reach the sandbox)."""

from __future__ import annotations

from flowtest_support import FLOWS, Write, run_file
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.flowtests.doubles import Recorder
from runtime.flowtests.model import Place, RequestFixture
from runtime.flowtests.report import failure_text

BOOKING = FLOWS / "booking-follow-up.yaml"
SAMPLE = FLOWS / "samples" / "booking-follow-up.payload.json"
CONFIG = """\
config:
  calendly: {clientId: sandbox-client-id, clientSecret: sandbox-client-secret, useLiveServer: false}
  organization: TUANV24OXUSEUMYM
  followUpEventType: HDWNG6N3G3J7OPUS
"""


def booking_case(write: Write, case: str) -> list[str]:
    path = write(
        "tests/test_booking.yaml",
        f"flow: {BOOKING}\n{CONFIG}cases:\n  - name: the case\n    payload_file: {SAMPLE}\n" + case,
    )
    (result,) = run_file(path)
    return [result.outcome, failure_text(result)]


def test_a_step_output_fixture_replaces_the_call_and_nothing_else(write: Write) -> None:
    outcome, text = booking_case(
        write,
        """\
    fixtures:
      - step: me
        output: {data: {resource: {name: Stand In}}}
    expect:
      - steps.me.output.data.resource.name == 'Stand In'
      - "!requests.exists(r, r.path == '/users/me')"
      - requests.exists(r, r.method == 'GET' && r.path.startsWith('/scheduled_events/') && !r.fixture)
      - steps.me.inputs.connection == '[connection calendly]'
      - status == 'completed'
""",
    )
    assert outcome == "passed", text


def test_a_step_error_fixture_fails_the_step_as_the_api_would(write: Write) -> None:
    outcome, text = booking_case(
        write,
        """\
    fixtures:
      - step: followUpType
        error: {status: 404, title: Resource Not Found, message: no such event type}
      - step: me
        error: {message: the stand-in says no}
    expect:
      - status == 'failed'
      - error.step == 'me'
      - steps.me.error.type == 'FixtureError'
      - steps.me.error.message == 'the stand-in says no'
      - "!('route' in steps)"
""",
    )
    assert outcome == "passed", text
    outcome, text = booking_case(
        write,
        """\
    fixtures:
      - step: followUpType
        error: {status: 404, title: Resource Not Found, message: no such event type}
    expect:
      - status == 'failed'
      - error.step == 'route.booked.followUpType'
      - steps.followUpType.error.status == 404
      - steps.followUpType.error.type == 'FatalApiError'
      - steps.bookedType.status == 'completed'
""",
    )
    assert outcome == "passed", text


def test_a_retriable_error_fixture_is_retried_by_the_step_s_policy(write: Write) -> None:
    flow = write(
        "retrying.yaml",
        """\
        name: retrying
        steps:
          - id: flaky
            action: relay.value
            retry: {attempts: 3, initial: 1s}
            inputs: {value: 1}
        """,
    )
    path = write(
        "tests/test_retrying.yaml",
        f"""\
        flow: {flow}
        cases:
          - name: three attempts
            fixtures:
              - step: flaky
                error: {{status: 503, message: busy, retriable: true}}
            expect:
              - steps.flaky.attempts == 3
              - steps.flaky.error.status == 503
        """,
    )
    (result,) = run_file(path)
    assert result.ok, failure_text(result)


def test_a_request_fixture_answers_its_requests_and_counts_down(write: Write) -> None:
    outcome, text = booking_case(
        write,
        """\
    fixtures:
      - request: GET /event_types/*
        status: 200
        body: {resource: {uri: "http://calendly.sandbox.invalid/event_types/X", name: Stand-in Type}}
        times: 1
    expect:
      - status == 'completed'
      - steps.bookedType.output.data.resource.name == 'Stand-in Type'
      - steps.followUpType.output.data.resource.name == '30 Minute Meeting'
      - requests.filter(r, r.path.startsWith('/event_types/')).map(r, r.fixture) == [true, false]
      - requests.filter(r, r.fixture).size() == 1
""",
    )
    assert outcome == "passed", text


def test_a_request_fixture_for_another_host_or_method_stands_aside(write: Write) -> None:
    outcome, text = booking_case(
        write,
        """\
    fixtures:
      - request: GET /users/me
        host: elsewhere.invalid
        status: 500
      - request: POST /users/me
        status: 500
    expect:
      - status == 'completed'
      - "!requests.exists(r, r.fixture)"
""",
    )
    assert outcome == "passed", text


def test_request_bodies_are_recorded_without_secrets(write: Write) -> None:
    outcome, text = booking_case(
        write,
        """\
    expect:
      - requests[0].path == '/oauth/authorize'
      - requests.exists(r, r.path == '/oauth/token' && r.body.grant_type == 'authorization_code')
      - requests.filter(r, r.path == '/oauth/token').all(r, r.body.code == '[redacted]' && r.body.code_verifier == '[redacted]')
      - requests.exists(r, r.method == 'POST' && r.path == '/shares' && r.body.event_type.endsWith('HDWNG6N3G3J7OPUS'))
""",
    )
    assert outcome == "passed", text


_SEGMENT = st.text(
    alphabet=st.characters(exclude_characters="/*?#", exclude_categories=["Cs"]), max_size=8
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_SEGMENT, min_size=1, max_size=4), st.integers(min_value=0, max_value=3))
def test_a_request_pattern_matches_its_path_and_a_star_one_segment(
    segments: list[str], star: int
) -> None:
    path = "/" + "/".join(segments)
    exact = RequestFixture(method="GET", path=path, place=Place("f", 1, 1), status=201)
    recorder = Recorder((exact,))
    seen = {"method": "GET", "host": "h", "path": path, "query": {}, "headers": {}, "body": b""}
    answer = recorder.answer(seen)
    assert answer is not None and answer[0] == 201
    assert recorder.answer({**seen, "path": path + "/more"}) is None
    assert recorder.answer({**seen, "method": "POST"}) is None
    index = star % len(segments)
    starred = "/" + "/".join("*" if i == index else s for i, s in enumerate(segments))
    wild = Recorder((RequestFixture(method="GET", path=starred, place=Place("f", 1, 1)),))
    assert wild.answer({**seen, "path": path}) is not None
    other = "/" + "/".join("x/y" if i == index else s for i, s in enumerate(segments))
    assert wild.answer({**seen, "path": other}) is None  # a star stays within its segment


def test_a_fixture_with_times_answers_that_many_then_stands_aside() -> None:
    fixture = RequestFixture(method="GET", path="/a", place=Place("f", 1, 1), times=2, body="x")
    recorder = Recorder((fixture,))
    seen = {"method": "GET", "host": "h", "path": "/a", "query": {}, "headers": {}, "body": b""}
    answers = [recorder.answer(seen) for _ in range(3)]
    assert answers[:2] == [(200, {"content-type": "text/plain; charset=utf-8"}, b"x")] * 2
    assert answers[2] is None
