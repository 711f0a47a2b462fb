"""A generator run in a second process, its items handed back in order.

Reading a file is Python from end to end, so threads would take turns on the interpreter
lock; a second process reads (or reads and prepares) while this one goes on with what it
sent before, on two cores. It runs at most a few items ahead, so memory stays bounded.
An import prepares its batches this way (collector.reading), and a report straight from
a large file validates its records this way (collector.offline).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from collector.collecting import rare_collections
from collector.errors import InputError

AHEAD = 3  # items waiting to be sent, besides the one being sent
STOP_SECONDS = 1.0  # how long the second process may take to stop before it is ended

T = TypeVar("T")
A = TypeVar("A")


def cores() -> int:
    """The CPUs this process may run on: a second process is worth starting on two."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def offloaded(produce: Callable[[A], Iterator[T]], argument: A, name: str) -> Iterator[T]:
    """The items of ``produce(argument)``, made in a second process named ``name``.

    ``produce`` must be a module-level function and ``argument`` picklable. An error
    that stops it is raised here, as it was raised there (or as InputError when it cannot
    be pickled)."""
    context = multiprocessing.get_context("spawn")  # no fork: the parent may run threads
    receiver, sender = context.Pipe(duplex=False)
    # A daemon: a process that exits mid-import (a service stopping while the scheduler
    # imports a spool file) ends its reader instead of waiting for it at exit.
    child = context.Process(target=_serve, args=(produce, argument, sender), name=name, daemon=True)
    child.start()
    sender.close()  # the child holds the only sending end, so its end reads as EOF here
    try:
        while not isinstance(item := _receive(receiver, child), _End):
            yield item
    finally:
        receiver.close()  # a child still sending gets a broken pipe and stops
        child.join(timeout=STOP_SECONDS)
        if child.is_alive():
            child.terminate()
            child.join()


@dataclass(slots=True)
class _Failure:
    error: Exception


@dataclass(slots=True)
class _End:
    """The last message: nothing follows."""


def _receive(receiver: Any, child: Any) -> Any:
    try:
        message = receiver.recv()
    except (EOFError, OSError):  # OSError: it stopped halfway through a message
        child.join()
        raise InputError(
            f"the reading process stopped without a word (exit code {child.exitcode})"
        ) from None
    if isinstance(message, _Failure):
        raise message.error
    return message


def _serve(produce: Callable[[Any], Iterator[Any]], argument: Any, sender: Any) -> None:
    """Steps in the second process:
    1. leave Ctrl-C to the first process, which stops this one;
    2. make the items into an outbox of ``AHEAD`` that a mailer thread sends down the
       pipe, so that making goes on while a send waits (and the first process seldom
       waits for an item);
    3. post the end, or the error that stopped it (as InputError when the error itself
       cannot be pickled), and wait until the mailer has sent everything;
    4. stop early when the first process is gone: the mailer finds its end of the pipe
       closed and stops taking mail."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)
    mailer = threading.Thread(target=_mail, args=(outbox, sender), name="mailer", daemon=True)
    mailer.start()
    try:
        with rare_collections():
            for item in produce(argument):
                if not _post(outbox, mailer, item):
                    return
        _post(outbox, mailer, _End())
    except Exception as exc:
        _post(outbox, mailer, _Failure(_portable(exc)))
    finally:
        mailer.join()
        sender.close()


def _post(outbox: queue.Queue[Any], mailer: Any, message: Any) -> bool:
    """Put a message in the outbox; False once the mailer has stopped (receiver gone)."""
    while mailer.is_alive():
        try:
            outbox.put(message, timeout=STOP_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _mail(outbox: queue.Queue[Any], sender: Any) -> None:
    """Send the outbox down the pipe until the last message, or until nobody reads."""
    while True:
        message = outbox.get()
        try:
            sender.send(message)
        except BrokenPipeError:
            return  # the receiver stopped first
        if isinstance(message, _End | _Failure):
            return


def _portable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return InputError(f"{type(exc).__name__}: {exc}")
    return exc
