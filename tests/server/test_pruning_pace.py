"""The retention chore's pace: its batches take at most ``SHARE`` of the time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runtime.server.pruning import PAUSE, SHARE, pause_after


@given(st.floats(min_value=0.0, max_value=3600.0, allow_nan=False))
def test_a_batch_and_its_pause_leave_the_pruner_at_most_its_share(batch: float) -> None:
    pause = pause_after(batch)
    assert pause >= PAUSE
    assert batch <= SHARE * (batch + pause) + 1e-9


def test_a_slow_batch_is_followed_by_a_longer_pause() -> None:
    assert pause_after(0.2) > pause_after(0.02) >= PAUSE
    assert pause_after(0.2) == 0.2 * (1 - SHARE) / SHARE
