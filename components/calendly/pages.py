"""Reading a paginated Calendly collection to its end, each page and each item once.

Calendly answers ``{"collection": [...], "pagination": {"next_page_token": ...}}``; the query is
sent again with ``page_token`` until the token is null. A token that comes back (the same page
again, or a cycle) would make that loop endless, repeat items and act on them twice (a DELETE
per repeated subscription), so it ends the read with an error before anything acts on it. An
item seen on an earlier page (pages shift when items are added mid-read) is kept once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from runtime import FatalApiError

#: Calendly's largest page (fewer requests than its default of 20).
PAGE_SIZE = 100
#: Endpoints that allow larger pages than ``PAGE_SIZE``.
PAGE_SIZES: Mapping[str, int] = {"/activity_log_entries": 1000}
#: A bound on any one read, so tokens that never repeat yet never end cannot loop forever
#: either (a million items at the usual page size).
MAX_PAGES = 10_000

#: Sends the query (with ``count`` and ``page_token``) and returns the parsed body.
Fetch = Callable[[dict[str, Any]], Awaitable[Any]]


def page_size(path: str, limit: int | None = None) -> int:
    """The page size to ask ``path`` for: its maximum, or less when ``limit`` is smaller."""
    largest = PAGE_SIZES.get(path, PAGE_SIZE)
    return min(largest, limit) if limit else largest


def _loop(path: str, pages: int, why: str) -> FatalApiError:
    return FatalApiError(
        502,
        "Pagination Loop",
        f"GET {path}: page {pages} {why}; stopped reading so no item is read or acted on twice",
    )


async def read_pages(
    fetch: Fetch, path: str, query: Mapping[str, Any], *, limit: int | None = None
) -> list[Any]:
    """Every item of ``path`` (or the first ``limit``), following page tokens once each."""
    params = dict(query)
    params["count"] = page_size(path, limit)
    items: list[Any] = []
    seen_items: set[str] = set()
    followed: set[str] = set()
    for pages in range(1, MAX_PAGES + 1):
        body = await fetch(params)
        for item in body.get("collection") or ():
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str):
                if uri in seen_items:
                    continue
                seen_items.add(uri)
            items.append(item)
        token = (body.get("pagination") or {}).get("next_page_token")
        if not token or (limit is not None and len(items) >= limit):
            break
        token = str(token)
        if token in followed:
            raise _loop(path, pages, "returned a page token already followed")
        followed.add(token)
        params["page_token"] = token
    else:
        raise _loop(path, MAX_PAGES, "is still not the last")
    if limit is not None:
        del items[limit:]  # in place: no second list of every item
    return items
