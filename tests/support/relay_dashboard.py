"""A signed-in dashboard client for the dashboard tests: sign in with a token as a browser
does (the sign-in form's CSRF value, then the session cookie), read a page's CSRF token, post
forms; and the HTML checks every page must pass."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

PREFIX = "/dashboard"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


class Dashboard:
    """One browser's session on the dashboard, over ``client``."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(self, token: str) -> httpx.Response:
        form = await self.client.get(PREFIX + "/signin")
        assert form.status_code == 200, form.text
        csrf = _CSRF.search(form.text)
        assert csrf is not None
        answer = await self.client.post(
            PREFIX + "/signin", data={"csrf": csrf.group(1), "token": token, "next": ""}
        )
        if answer.status_code == 303:
            page = await self.get("/")
            assert page.status_code == 200, page.text
        return answer

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        answer = await self.client.get(PREFIX + path, **kwargs)
        found = _CSRF.search(answer.text)
        if found is not None and found.group(1):
            self.csrf = found.group(1)
        return answer

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = None, **kw: Any
    ) -> httpx.Response:
        fields = {"csrf": self.csrf if csrf is None else csrf, **(data or {})}
        return await self.client.post(PREFIX + path, data=fields, **kw)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self.styled: list[str] = []
        self.buttons: list[str] = []
        self.forms: list[str] = []
        self.unlabelled: list[str] = []
        self._labels: set[str] = set()
        self._controls: list[tuple[str, dict[str, str | None]]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name, _value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name == "style":
                self.styled.append(tag)
        if tag == "script":
            self._in_script = "src" not in found
            if self._in_script:
                self.inline_scripts += 1
        if tag == "button":
            self.buttons.append(str(found.get("type")))
        if tag == "form":
            self.forms.append(str(found.get("action")))
        if tag == "label" and found.get("for"):
            self._labels.add(str(found["for"]))
        if tag in ("input", "select", "textarea") and found.get("type") not in ("hidden",):
            self._controls.append((tag, found))

    def close(self) -> None:
        super().close()
        for tag, found in self._controls:
            if found.get("aria-label") or (found.get("id") and found["id"] in self._labels):
                continue
            self.unlabelled.append(f"{tag} {found.get('name')}")


def page_facts(html: str) -> _Page:
    """What a page holds that the checks below look at."""
    parser = _Page()
    parser.feed(html)
    parser.close()
    return parser


def assert_safe_page(html: str) -> None:
    """No inline script, no event handler attribute, no inline style, every control labelled."""
    facts = page_facts(html)
    assert facts.inline_scripts == 0
    assert facts.handlers == []
    assert facts.styled == []
    assert facts.unlabelled == []
