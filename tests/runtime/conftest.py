from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from relay_widgets import API_HOST, WidgetApi, WidgetsPlugin

from runtime import ManualClock, Runtime


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(clock: ManualClock) -> WidgetApi:
    return WidgetApi(clock)


@pytest_asyncio.fixture
async def rt(api: WidgetApi, clock: ManualClock) -> AsyncIterator[Runtime]:
    runtime = Runtime(
        plugins=[WidgetsPlugin()], load_entry_points=False, hosts={API_HOST: api.app}, clock=clock
    )
    yield runtime
    await runtime.aclose()


@pytest.fixture
def sync_rt(api: WidgetApi, clock: ManualClock) -> Runtime:
    return Runtime(
        plugins=[WidgetsPlugin()], load_entry_points=False, hosts={API_HOST: api.app}, clock=clock
    )


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    def writer(text: str, name: str = "flow.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return writer
