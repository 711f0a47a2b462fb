"""Reply threads of a message-level export: every row's conversation is its thread's first post.

A reply names the message it answers (a parent-id column); following parents up leads to
the thread's first post, whose id names the conversation (``{thread}`` in a mapping). The
file is read twice: a first pass keeps each reply's parent, then the rows are read into
events. So the order of the rows does not matter, a reply may come before the message it
answers (exports sorted newest first), and a reply to a reply to a customer's post lands
in that post's conversation.

Memory is bounded by the replies of one file: one entry per reply (its id and, once
followed, its thread's first post, which all the thread's entries share): about 140
bytes each for ids of 19 digits (``bench/mapping.py`` measures it). ``threads.max_replies``
caps the entries; a file with more is refused before anything is imported, never threaded
partly.

A parent that is not in the file (the export begins mid-thread, or the post was deleted)
names the conversation itself: every reply to it lands in one conversation, called after
the message they answer. Parents that loop (a answers b, b answers a) are refused row by
row, naming the loop.
"""

from __future__ import annotations

from collector.errors import InputError
from collector.sources.csvrowerror import RowError, Values, column_error
from collector.sources.csvspec import Threads

# Chains are usually one or two steps once followed; a longer one is checked for a loop.
_SHORT_CHAIN = 64


class ThreadIndex:
    """The parent of each reply of one file, followed up to first posts on demand."""

    def __init__(self, spec: Threads) -> None:
        self.spec = spec
        self.parents: dict[str, str] = {}  # reply -> its parent, or its first post once known

    def add(self, values: Values, where: str) -> None:
        """Note one row's parent (first pass); InputError once the replies exceed the cap."""
        message, parent = values[self.spec.message], values[self.spec.parent]
        if message is None or parent is None or message == parent:
            return
        parents = self.parents
        # Most exports list a message before its replies: point straight at the first post.
        found = parents.get(parent)
        parents.setdefault(message, parent if found is None else found)
        if len(parents) > self.spec.max_replies:
            raise InputError(
                f"{where}: more than {self.spec.max_replies:,} replies; `threads.max_replies` "
                "bounds the memory kept to follow threads (about 140 bytes a reply): raise "
                "it, or split the file by thread"
            )

    def thread_of(self, values: Values) -> str | None:
        """The first post of the row's thread: the row itself when it answers nothing."""
        message, parent = values[self.spec.message], values[self.spec.parent]
        start = message if message is not None else parent
        return None if start is None else self.first_post(start)

    def first_post(self, message: str) -> str:
        """Follow parents up from ``message``; remember the answer for the whole chain."""
        parents = self.parents
        chain: list[str] = []
        seen: set[str] = set()
        node = message
        while (up := parents.get(node)) is not None:
            chain.append(node)
            if len(chain) > _SHORT_CHAIN:
                if node in seen:
                    raise self._loop(chain)
                seen.add(node)
            if up == message or up in chain[-2:]:
                raise self._loop([*chain, up])
            node = up
        for reply in chain:
            parents[reply] = node
        return node

    def _loop(self, chain: list[str]) -> RowError:
        # Ids are a file's text: a reason shows a bounded part of each.
        cut = [m if len(m) <= 40 else m[:40] + "…" for m in chain[:6]]
        shown = " -> ".join(cut) + (" -> ..." if len(chain) > 6 else "")
        return column_error(
            self.spec.parent, f"the replies loop ({shown}): a thread needs a first post"
        )
