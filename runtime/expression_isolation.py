"""Expressions evaluated in a child process with a hard time limit.

CEL holds the GIL for a whole evaluation and has no cost limit of its own, so an expression
that iterates over a large input would stop everything else in the process, event loop
included, for as long as it runs (a thread does not help). An expression whose estimated cost
is over budget (``runtime.expression_budget``) is sent here instead: a child process
(``python -m runtime.expression_isolation``) compiles and evaluates it, and the event loop
waits for the answer without being held. A child that runs past the time limit is killed and
a fresh one started for the next evaluation.

The protocol on the child's stdin/stdout: frames of a 4-byte big-endian length and a pickle.
The parent sends ``(source, bindings)``; the child answers ``("ok", value)`` or
``("error", message)``. Both ends are this module (pickles never come from anywhere else).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
import weakref
from typing import Any, BinaryIO

#: Largest answer a child sends back (a pickled result); larger ones are an error.
RESULT_LIMIT = 16 * 1024 * 1024
#: Address space a child may use: an expression that builds huge values fails instead of
#: exhausting the machine's memory.
MEMORY_LIMIT = 1024 * 1024 * 1024
#: Children kept per event loop; more isolated evaluations at once wait for one.
CHILDREN = 2
_READY = b"ready"


class EvaluationTimedOut(Exception):
    """The child ran past the time limit and was killed."""


class EvaluationFailed(Exception):
    """The child died (e.g. out of memory) or answered something unreadable."""


class _Child:
    """One child process and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> _Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.expression_isolation",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        child = cls(process)
        try:
            # the child imports CEL before it says so: not counted against an evaluation
            if await asyncio.wait_for(child._read(), 60) != _READY:
                raise EvaluationFailed("the evaluation process did not start")
        except BaseException:
            child.kill()
            raise
        return child

    async def call(self, source: str, bindings: dict[str, Any]) -> tuple[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(_frame(pickle.dumps((source, bindings))))
        await self.process.stdin.drain()
        reply = pickle.loads(await self._read())  # noqa: S301 (our own child's answer)
        if not (isinstance(reply, tuple) and len(reply) == 2):
            raise EvaluationFailed("the evaluation process answered nonsense")
        return reply

    async def _read(self) -> bytes:
        assert self.process.stdout is not None
        try:
            size = int.from_bytes(await self.process.stdout.readexactly(4), "big")
            return await self.process.stdout.readexactly(size)
        except asyncio.IncompleteReadError:
            raise EvaluationFailed("the evaluation process stopped (out of memory?)") from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()

    async def wait(self) -> None:
        with contextlib.suppress(Exception):
            await self.process.wait()


class IsolatedEvaluator:
    """Child processes that evaluate expressions, each evaluation under ``time_limit``."""

    def __init__(self, children: int = CHILDREN) -> None:
        self._slots = asyncio.Semaphore(children)
        self._idle: list[_Child] = []

    async def evaluate(self, source: str, bindings: dict[str, Any], time_limit: float) -> Any:
        """The value of ``source`` with ``bindings``. Raises ``EvaluationTimedOut`` past
        ``time_limit`` seconds, ``EvaluationFailed`` if the child died, and the
        ``ExpressionError`` evaluating it inline would have raised."""
        from runtime.errors import ExpressionError

        async with self._slots:
            child = self._idle.pop() if self._idle else await _Child.start()
            try:
                kind, value = await asyncio.wait_for(child.call(source, bindings), time_limit)
            except TimeoutError:
                child.kill()
                await child.wait()
                raise EvaluationTimedOut() from None
            except BaseException:
                child.kill()
                await child.wait()
                raise
            self._idle.append(child)
        if kind == "error":
            raise ExpressionError(str(value))
        return value

    async def aclose(self) -> None:
        """Stop the idle children (a running evaluation's child stops with it)."""
        idle, self._idle = self._idle, []
        for child in idle:
            child.kill()
            await child.wait()


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, IsolatedEvaluator] = (
    weakref.WeakKeyDictionary()
)


def isolated() -> IsolatedEvaluator:
    """The running event loop's evaluator (a child's pipes belong to the loop that made it).
    Its children end when their stdin closes, with the loop or the process."""
    loop = asyncio.get_running_loop()
    found = _BY_LOOP.get(loop)
    if found is None:
        found = _BY_LOOP[loop] = IsolatedEvaluator()
    return found


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


# -- the child --------------------------------------------------------------------------------


def _serve(incoming: BinaryIO, outgoing: BinaryIO) -> None:
    from runtime.errors import ExpressionError
    from runtime.expressions import Expression, compile_expression

    compile_expression("[1].map(x, x)")  # CEL imported before the parent is told "ready"
    outgoing.write(_frame(_READY))
    outgoing.flush()
    compiled: dict[str, Expression] = {}
    while True:
        header = incoming.read(4)
        if len(header) < 4:
            return  # the parent is gone
        source, bindings = pickle.loads(incoming.read(int.from_bytes(header, "big")))  # noqa: S301
        try:
            expr = compiled.get(source)
            if expr is None:
                if len(compiled) > 256:
                    compiled.clear()
                expr = compiled[source] = compile_expression(source)
            reply: tuple[str, Any] = ("ok", expr.evaluate(bindings))
        except ExpressionError as exc:
            reply = ("error", str(exc))
        except Exception as exc:  # anything else out of CEL: one line, as inline
            reply = ("error", f"${{{{ {source} }}}}: {type(exc).__name__}")
        try:
            payload = pickle.dumps(reply)
        except Exception:
            payload = pickle.dumps(("error", f"${{{{ {source} }}}}: a value relay cannot use"))
        if len(payload) > RESULT_LIMIT:
            message = f"${{{{ {source} }}}}: the result is larger than {RESULT_LIMIT} bytes"
            payload = pickle.dumps(("error", message))
        outgoing.write(_frame(payload))
        outgoing.flush()


def main() -> None:
    """The child's entry point: answer requests on stdin until it closes."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    # the protocol owns the real stdout; anything else printing goes to stderr
    outgoing = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        _serve(sys.stdin.buffer, outgoing)


if __name__ == "__main__":
    main()
