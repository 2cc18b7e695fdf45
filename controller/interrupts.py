"""Ctrl-C (SIGINT) while a search saves its state or while Ray Tune runs its trials.

A KeyboardInterrupt raised at an arbitrary line of a bookkeeping step (re-queueing interrupted
trials, writing the outputs) or inside Ray's own threads and finalizers would leave that step half
done or print "Exception ignored" tracebacks; in those stretches Ctrl-C is taken by a handler
instead. Outside them (in-process training) it raises KeyboardInterrupt as usual.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Callable


@contextlib.contextmanager
def _sigint_handler(handler) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Once:
    def __init__(self, message: str):
        self.message, self.raised, self.told = message, False, False

    def stopping(self) -> None:
        """From now on Ctrl-C is ignored (the stop it asked for is under way)."""
        self.raised = True

    def __call__(self, signum, frame) -> None:
        if not self.raised:
            self.raised = True
            raise KeyboardInterrupt
        if not self.told:
            self.told = True
            print(self.message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def interrupt_once(message: str) -> Iterator[_Once]:
    """Within the block the first Ctrl-C raises KeyboardInterrupt as usual; later ones (and any
    after `.stopping()`) print `message` once and are ignored, so the bookkeeping that follows the
    first is never cut short."""
    once = _Once(message)
    with _sigint_handler(once):
        yield once


@contextlib.contextmanager
def interrupts_call(stop: Callable[[], None], message: str) -> Iterator[None]:
    """Within the block the first Ctrl-C calls `stop()` (which must only set a flag) and prints
    `message`; later ones print nothing and change nothing, so the stop it started completes."""
    told = []

    def handler(signum, frame) -> None:
        if not told:
            told.append(True)
            stop()
            print(message, file=sys.stderr, flush=True)

    with _sigint_handler(handler):
        yield
