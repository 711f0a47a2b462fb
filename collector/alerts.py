"""The built-in alert state machine of DESIGN section 12: one state per (objective, group).

- ok -> firing when the group has been breached at every evaluation for at least `for`
  (a breach starts the clock, met resets it, no data leaves it as it is);
- firing -> ok at the first evaluation where it is met; no data resolves nothing.

Each flip is a compare-and-set on the row's `version` and queues its mail in the same
transaction, so two schedulers evaluating at once never send two mails for one flip, and a
crash after the flip leaves the mail in the outbox for the next sender run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select, update

from collector import tables as t
from collector.evaluation import Result, State, evaluate_store
from collector.objectives import Objective
from collector.outbox import group_text, mail_enabled, queue
from collector.settings import Settings
from collector.store import Store
from collector.txn import upsert, writing
from exporters.email import Notice, message_id
from exporters.email.notice import Kind

log = logging.getLogger("touchmetrics.alerts")
OK, FIRING = "ok", "firing"


@dataclass(frozen=True, slots=True)
class Step:
    """What one evaluation does to one group: its next state and whether that is a flip."""

    state: str
    breached_since: int | None
    flip: Kind | None


def step(
    objective: Objective, state: str, breached_since: int | None, verdict: State, now: int
) -> Step:
    """The next state of one group after one evaluation at ``now`` (microseconds)."""
    if verdict == "breached":
        since = now if breached_since is None else breached_since
    elif verdict == "met":
        since = None
    else:
        since = breached_since  # no data: the clock neither runs out nor resets
    lasted = 0 if since is None else now - since
    if state == OK and verdict == "breached" and lasted >= objective.for_seconds * 1_000_000:
        return Step(FIRING, since, "firing")
    if state == FIRING and verdict == "met":
        return Step(OK, None, "resolved")
    return Step(state, since, None)


def evaluate_alerts(store: Store, now: int) -> bool:
    """Judge every objective and move each group's alert state; True when any flipped.

    1. Judge every objective over [now - window, now) from the stored facts.
    2. In one transaction, read the stored states and write each group's next state as a
       compare-and-set on its version (an insert for a new group). A row that another
       scheduler wrote since it was read, or judged at a later instant, is left as it is.
    3. For a flip, with mail on, queue its mail in the outbox in that same transaction.
    """
    objectives = list(store.settings.objectives.values())
    if not objectives:
        return False
    results = evaluate_store(store, objectives, now)
    flipped = []
    with writing(store) as conn:
        stored = {(r.objective, r.group_key): r for r in conn.execute(select(t.alert_states))}
        for result in results:
            row = stored.get((result.objective.name, group_text(result.labels)))
            if _apply(store, conn, result, row, now):
                flipped.append(result)
    for result in flipped:  # after the commit: a rolled-back flip is never logged
        _log_flip(store.settings, result)
    return bool(flipped)


def _apply(store: Store, conn: Connection, result: Result, row: Row[Any] | None, now: int) -> bool:
    """Write one group's next state; True when this call flipped it."""
    if row is not None and row.evaluated_at > now:
        return False
    o = result.objective
    nxt = step(o, row.state if row else OK, row.breached_since if row else None, result.state, now)
    mail = mail_enabled(store.settings) and nxt.flip is not None
    own_id = message_id(store.settings) if mail else None
    firing_id = row.message_id if row is not None else None
    values: dict[str, Any] = {
        "state": nxt.state, "verdict": result.state, "breached_since": nxt.breached_since,
        "evaluated_at": now, "good": result.share.good, "total": result.share.total,
    }  # fmt: skip
    if nxt.flip is not None:
        values["changed_at"] = now
    if nxt.flip == "firing":
        values["message_id"] = own_id
    if not _compare_and_set(store, conn, o.name, group_text(result.labels), row, values, now):
        return False
    if own_id is not None and nxt.flip is not None:
        _queue_mail(store, conn, result, row, nxt, (own_id, firing_id), now)
    return nxt.flip is not None


def _queue_mail(
    store: Store, conn: Connection, result: Result, row: Row[Any] | None, nxt: Step,
    ids: tuple[str, str | None], now: int,
) -> None:  # fmt: skip
    """Queue the mail of a flip; a resolve mail replies to the firing mail (ids[1])."""
    assert nxt.flip is not None
    o, share = result.objective, result.share
    if nxt.flip == "resolved" and row is not None:
        times, replying_to = (now, row.breached_since, row.changed_at), ids[1]
    else:
        times, replying_to = (now, nxt.breached_since, None), None
    notice = Notice.of(nxt.flip, o, result.labels, (share.good, share.total), times,
                       channel_titles(store.settings))  # fmt: skip
    queue(conn, notice, recipients(store.settings, o), (ids[0], replying_to), now)


def _compare_and_set(
    store: Store, conn: Connection, name: str, key: str, row: Row[Any] | None,
    values: dict[str, Any], now: int,
) -> bool:  # fmt: skip
    """Write the row only if nobody did since it was read; True when written."""
    if row is None:
        values = {"objective": name, "group_key": key, "changed_at": now, "version": 1, **values}
        statement = upsert(store, t.alert_states).values(**values).on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT, so both of two racing
        # schedulers looked as if they had inserted the row, and both queued its mail.
        inserted = statement.returning(t.alert_states.c.version)
        return conn.execute(inserted).first() is not None
    c = t.alert_states.c
    statement = (
        update(t.alert_states)
        .where(c.objective == name, c.group_key == key, c.version == row.version)
        .values(**values, version=row.version + 1)
    )
    return bool(conn.execute(statement).rowcount)


def recipients(settings: Settings, objective: Objective) -> list[str]:
    """The objective's `notify` list, else `alert_email_to`."""
    return list(objective.notify or settings.alert_email_to)


def channel_titles(settings: Settings) -> dict[str, str]:
    return {name: spec.title for name, spec in settings.channels.items() if spec.title}


def _log_flip(settings: Settings, result: Result) -> None:
    o, share = result.objective, result.share
    what = "firing" if result.state == "breached" else "resolved"
    value = "–" if share.value is None else f"{100 * share.value:.1f}%"
    bound = ", ".join(f"{k} {100 * v:.1f}%" for k, v in o.bound.items())
    mail = "mail queued" if mail_enabled(settings) else "mail is off"
    label = group_text(result.labels) or "all"
    log.info("%s %s %s: %s of %d (%s); %s", o.name, label, what, value, share.total, bound, mail)


def alert_states(store: Store) -> list[Row[Any]]:
    """Every stored alert state, by objective and group."""
    c = t.alert_states.c
    with store.reading() as conn:
        return list(conn.execute(select(t.alert_states).order_by(c.objective, c.group_key)))
