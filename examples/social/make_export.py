"""Make posts.csv: a social-media support log of one row per message, as exported.

Threads on two accounts: a customer's post, replies by the support account and by the
customer, replies to replies. BoltAssist is a brand's AI assistant that resolves a thread
or hands it to the people of AcmeHelp; AcmeDeals is a sales account the mapping does not
name. Written as a tool would export it: newest first, in two pages that each begin with
the header, the parent ids of the replies with pandas' ".0", and one thread whose first
post fell before the export's window. Deterministic: run it to make the file again.

    python examples/social/make_export.py > examples/social/posts.csv
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

HEADER = "post_id,in_reply_to,account,inbound,created_at,status,text"
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
Row = tuple[int, int | None, str, bool, datetime, str, str]


class Thread:
    """The rows of one thread, each a new id larger than the last."""

    def __init__(self, rows: list[Row], ids: list[int], rng: random.Random) -> None:
        self.rows, self.ids, self.rng = rows, ids, rng

    def post(self, parent: int | None, account: str, inbound: bool, at: datetime,
             status: str = "", text: str = "") -> int:  # fmt: skip
        self.ids[0] += self.rng.randint(3, 40)
        self.rows.append((self.ids[0], parent, account, inbound, at, status, text))
        return self.ids[0]


def threads(rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    ids = [1_000_000]
    kinds = ["bot-resolves"] * 14 + ["bot-hands-over"] * 8 + ["people"] * 12
    kinds += ["unanswered"] * 3 + ["deals"] * 2
    rng.shuffle(kinds)
    for number, kind in enumerate(kinds):
        at = START + timedelta(minutes=37 * number + rng.randint(0, 20))
        thread = Thread(rows, ids, rng)
        if kind == "deals":
            first = thread.post(None, "AcmeDeals", True, at, text="any discount on the pro plan?")
            thread.post(first, "AcmeDeals", False, at + timedelta(minutes=rng.randint(20, 90)),
                        "resolved", "10% off this week")  # fmt: skip
            continue
        account = "AcmeHelp" if kind in ("people", "unanswered") else "BoltAssist"
        first = thread.post(None, account, True, at, text="my order has not arrived")
        if kind == "unanswered":
            continue
        if kind == "people":
            _people(thread, first, at + timedelta(minutes=rng.randint(4, 95)))
            continue
        at += timedelta(seconds=rng.randint(2, 40))
        reply = thread.post(first, "BoltAssist", False, at, text="let me check that for you")
        at += timedelta(minutes=rng.randint(1, 6))
        answer = thread.post(reply, "BoltAssist", True, at, text="order 4411")
        at += timedelta(seconds=rng.randint(2, 30))
        if kind == "bot-resolves":
            thread.post(answer, "BoltAssist", False, at, "resolved", "it arrives tomorrow")
            continue
        handed = thread.post(answer, "BoltAssist", False, at, "handoff", "passing you to a person")
        _people(thread, handed, at + timedelta(minutes=rng.randint(3, 60)))
    _mid_thread(Thread(rows, ids, rng), START + timedelta(hours=30))
    return rows


def _people(thread: Thread, parent: int, at: datetime) -> None:
    """A person answers, the customer replies, the person closes the thread (or not)."""
    reply = thread.post(parent, "AcmeHelp", False, at, text="sorry about that, checking")
    if thread.rng.random() < 0.2:
        return  # still open at the end of the export
    at += timedelta(minutes=thread.rng.randint(1, 30))
    answer = thread.post(reply, "AcmeHelp", True, at, text="thanks")
    at += timedelta(minutes=thread.rng.randint(2, 45))
    thread.post(answer, "AcmeHelp", False, at, "resolved", "a new one ships today")


def _mid_thread(thread: Thread, at: datetime) -> None:
    """A thread whose first post (1000001) is older than the export: its replies remain."""
    reply = thread.post(1_000_001, "AcmeHelp", False, at, text="following up on your order")
    answer = thread.post(reply, "AcmeHelp", True, at + timedelta(minutes=9), text="still nothing")
    thread.post(answer, "AcmeHelp", False, at + timedelta(minutes=25), "resolved", "refunded")


def render(row: Row) -> str:
    post_id, parent, account, inbound, at, status, text = row
    parent_text = f"{parent}.0" if parent is not None else ""  # pandas: a float column
    when = at.strftime("%a %b %d %H:%M:%S +0000 %Y")
    return f'{post_id},{parent_text},{account},{inbound},{when},{status},"{text}"'


def export(rows: list[Row]) -> str:
    """Newest first, in two pages of the export tool, each with its header."""
    ordered = sorted(rows, key=lambda r: r[4], reverse=True)
    half = len(ordered) // 2
    pages = [ordered[:half], ordered[half:]]
    return "".join(HEADER + "\n" + "".join(render(r) + "\n" for r in page) for page in pages)


if __name__ == "__main__":
    sys.stdout.write(export(threads(random.Random(12))))
