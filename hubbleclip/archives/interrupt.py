"""Ctrl-C always stops an archive build (KeyboardInterrupt, exit 130), and what was fetched is kept.

Python's SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be.  Inside a
``__del__`` method or a weakref callback that exception is printed ("Exception ignored in ...") and
dropped, and the build carries on; asyncio's own handler does the same with a second Ctrl-C (seen
in its WeakSet callbacks).  :func:`stop_on_ctrl_c` counts every Ctrl-C, so one that was dropped
still stops the build when the block ends, and inside it :func:`run_async` lets the event loop take
the signal, in a callback between tasks, never inside a finaliser: the first Ctrl-C cancels the
build, whose client then lets the requests on the wire reach the cache; a second stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class CtrlC:
    """The SIGINT handler of a build: counts, and stops the build as Python's own handler would."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _signum, _frame) -> None:
        self.count += 1
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_ctrl_c() -> Iterator[None]:
    """Ctrl-C in the block raises KeyboardInterrupt as usual, and again when the block ends if
    something swallowed it.  Leaves SIGINT alone outside the main thread or where it is not
    Python's default (ignored in a background job, or an application's own handler)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    ctrl_c = CtrlC()
    signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if ctrl_c.count:
        raise KeyboardInterrupt


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``; inside :func:`stop_on_ctrl_c` the event loop takes Ctrl-C: the first
    cancels ``main``, a second stops at once, and either ends in KeyboardInterrupt."""
    ctrl_c = signal.getsignal(signal.SIGINT)
    if not isinstance(ctrl_c, CtrlC):
        return asyncio.run(main)
    if ctrl_c.count:  # a Ctrl-C before the loop that something swallowed
        main.close()
        raise KeyboardInterrupt

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def on_sigint() -> None:
            ctrl_c.count += 1
            if ctrl_c.count > 1:
                raise KeyboardInterrupt
            task.cancel()

        loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await main
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, ctrl_c)  # remove_signal_handler put Python's default back

    try:
        result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if ctrl_c.count:
            raise KeyboardInterrupt from None
        raise
    if ctrl_c.count:  # the cancellation was swallowed, or came as ``main`` returned
        raise KeyboardInterrupt
    return result
