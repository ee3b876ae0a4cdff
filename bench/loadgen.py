"""A bounded HTTP/1.1 load generator on raw asyncio streams (no HTTP client library, so it is
cheap per request): ``connections`` keep-alive connections to 127.0.0.1, each sending the next
prepared request as soon as the previous answer is read, until ``count`` requests are answered
or ``seconds`` pass. Requests are prepared before the clock starts."""

from __future__ import annotations

import asyncio
import contextlib
import time

import attrs

LOOPBACK = "127.0.0.1"


@attrs.define
class Outcome:
    sent_at: list[float]  # wall clock (time.time()), to compare with server-side records
    latency: list[float]  # seconds, request written -> answer read
    statuses: list[int]
    bodies: list[bytes]
    elapsed: float  # first send -> last answer, seconds (perf_counter)

    @property
    def answered(self) -> int:
        return len(self.statuses)

    @property
    def rate(self) -> float:
        return self.answered / self.elapsed if self.elapsed else 0.0

    def count(self, status: int) -> int:
        return sum(1 for s in self.statuses if s == status)


def request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"host: {LOOPBACK}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run(
    port: int,
    requests: list[bytes],
    *,
    connections: int,
    seconds: float,
    keep_bodies: bool = False,
    rate: float | None = None,
) -> Outcome:
    """Send ``requests`` (each once, in order across connections) within ``seconds``: as fast
    as answers come back, or with ``rate``, request ``i`` no earlier than ``i / rate`` seconds
    after the start (a steady arrival rate, for latencies without a backlog)."""
    out = Outcome([], [], [], [], 0.0)
    next_index = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        try:
            while next_index < len(requests) and time.perf_counter() < deadline:
                index = next_index
                data = requests[index]
                next_index += 1
                if rate is not None:
                    wait = start + index / rate - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                sent_wall = time.time()
                sent = time.perf_counter()
                writer.write(data)
                status, body = await _read_answer(reader)
                out.latency.append(time.perf_counter() - sent)
                out.sent_at.append(sent_wall)
                out.statuses.append(status)
                if keep_bodies:
                    out.bodies.append(body)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    start = time.perf_counter()  # after the connections' set-up is scheduled, as before
    await asyncio.gather(*(worker() for _ in range(connections)))
    out.elapsed = time.perf_counter() - start
    return out
