"""The built-in alert state machine (DESIGN section 12), called as the plain job it is."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text

from collector import tables as t
from collector.alerts import FIRING, OK, alert_states, evaluate_alerts, step
from collector.batch import batch_of_events
from collector.errors import StoreError
from collector.objectives import Objective
from collector.outbox import outbox_rows
from collector.schema import Validator
from collector.store import Store
from tests.events import minute_us, outcomes

MINUTE = 60_000_000
FIVE_MINUTES = Objective(name="o", indicator="csat", min=0.8, **{"for": "5m"})


def add(store: Store, events: list[dict[str, Any]]) -> None:
    store.write_batch(batch_of_events(Validator(store.settings), "test", events))


def states(store: Store) -> list[tuple[str, str, str, str]]:
    return [(r.objective, r.group_key, r.state, r.verdict) for r in alert_states(store)]


def mails(store: Store) -> list[tuple[str, str]]:
    return [(r.kind, r.group_key) for r in sorted(outbox_rows(store), key=lambda r: r.id)]


# -- the steps, one evaluation at a time ------------------------------------------------


def test_a_breach_fires_only_once_it_has_lasted_for():
    first = step(FIVE_MINUTES, OK, None, "breached", 0)
    assert (first.state, first.breached_since, first.flip) == (OK, 0, None)
    assert step(FIVE_MINUTES, OK, 0, "breached", 4 * MINUTE).flip is None
    fired = step(FIVE_MINUTES, OK, 0, "breached", 5 * MINUTE)
    assert (fired.state, fired.breached_since, fired.flip) == (FIRING, 0, "firing")


def test_met_resets_the_clock_of_a_breach():
    assert step(FIVE_MINUTES, OK, 0, "met", 3 * MINUTE).breached_since is None
    again = step(FIVE_MINUTES, OK, None, "breached", 4 * MINUTE)
    assert again.breached_since == 4 * MINUTE
    assert step(FIVE_MINUTES, OK, 4 * MINUTE, "breached", 8 * MINUTE).flip is None
    assert step(FIVE_MINUTES, OK, 4 * MINUTE, "breached", 9 * MINUTE).flip == "firing"


def test_no_data_neither_fires_nor_resets_nor_resolves():
    quiet = step(FIVE_MINUTES, OK, 0, "no_data", 7 * MINUTE)
    assert (quiet.state, quiet.breached_since, quiet.flip) == (OK, 0, None)
    assert step(FIVE_MINUTES, OK, 0, "breached", 8 * MINUTE).flip == "firing"
    still = step(FIVE_MINUTES, FIRING, 0, "no_data", 9 * MINUTE)
    assert (still.state, still.flip) == (FIRING, None)


def test_firing_resolves_at_the_first_met_evaluation_only():
    assert step(FIVE_MINUTES, FIRING, 0, "breached", 9 * MINUTE).flip is None
    resolved = step(FIVE_MINUTES, FIRING, 0, "met", 10 * MINUTE)
    assert (resolved.state, resolved.breached_since, resolved.flip) == (OK, None, "resolved")


def test_for_zero_fires_at_the_first_breached_evaluation():
    at_once = FIVE_MINUTES.model_copy(update={"for_": "0s"})
    assert step(at_once, OK, None, "breached", 0).flip == "firing"


# -- against the database ----------------------------------------------------------------


def test_it_fires_once_after_for_and_resolves_once_with_one_mail_each(alert_store):
    store = alert_store()
    add(store, outcomes(0, resolved=4, abandoned=6))  # 40 % < 60 % in windows up to 10 min
    assert evaluate_alerts(store, minute_us(1)) is False  # the breach starts the clock
    assert states(store) == [("bot-containment", "channel=bot-chat,kind=ai", OK, "breached")]
    assert evaluate_alerts(store, minute_us(4)) is False
    assert evaluate_alerts(store, minute_us(6)) is True  # breached for 5 min
    assert evaluate_alerts(store, minute_us(7)) is False  # firing: no second mail
    assert mails(store) == [("firing", "channel=bot-chat,kind=ai")]
    add(store, outcomes(7.5, resolved=20, abandoned=0))  # 24 of 30 = 80 %
    assert evaluate_alerts(store, minute_us(8)) is True
    assert evaluate_alerts(store, minute_us(9)) is False
    assert states(store) == [("bot-containment", "channel=bot-chat,kind=ai", OK, "met")]
    firing, resolved = sorted(outbox_rows(store), key=lambda r: r.id)
    assert (firing.kind, resolved.kind) == ("firing", "resolved")
    assert resolved.in_reply_to == firing.message_id
    assert firing.in_reply_to is None and firing.recipients == "ops@example.org"
    figures = orjson.loads(resolved.payload)
    assert (figures["good"], figures["total"]) == (24, 30)
    assert (figures["breached_since"], figures["fired_at"]) == (minute_us(1), minute_us(6))
    (row,) = alert_states(store)
    assert (row.changed_at, row.evaluated_at, row.breached_since) == (
        minute_us(8), minute_us(9), None,
    )  # fmt: skip


def test_no_data_while_firing_changes_nothing(alert_store):
    store = alert_store({"for": "0s"})
    add(store, outcomes(0, resolved=0, abandoned=10))
    assert evaluate_alerts(store, minute_us(1)) is True
    assert evaluate_alerts(store, minute_us(30)) is False  # the window is empty now
    (row,) = alert_states(store)
    assert (row.state, row.verdict, row.changed_at) == (FIRING, "no_data", minute_us(1))
    add(store, outcomes(31, resolved=2, abandoned=0))  # under min_events: still no data
    assert evaluate_alerts(store, minute_us(32)) is False
    assert mails(store) == [("firing", "channel=bot-chat,kind=ai")]


def test_every_group_has_its_own_state(alert_store):
    store = alert_store({"channels": None, "kind": "ai", "for": "0s"})
    add(store, outcomes(0, resolved=0, abandoned=10, channel="bot-chat"))
    add(store, outcomes(0, resolved=10, abandoned=0, channel="voice-bot"))
    assert evaluate_alerts(store, minute_us(1)) is True
    assert states(store) == [
        ("bot-containment", "channel=bot-chat,kind=ai", FIRING, "breached"),
        ("bot-containment", "channel=voice-bot,kind=ai", OK, "met"),
    ]
    assert mails(store) == [("firing", "channel=bot-chat,kind=ai")]


def test_a_pooled_objective_fires_for_its_pool(alert_store):
    store = alert_store({"channels": None, "by": "all", "for": "0s", "notify": ["a@x.org"]})
    add(store, outcomes(0, resolved=1, abandoned=9, channel="chat"))
    assert evaluate_alerts(store, minute_us(1)) is True
    (row,) = outbox_rows(store)
    assert (row.group_key, row.recipients) == ("", "a@x.org")


@pytest.mark.parametrize(
    "mail", [{"alert_mail": "off"}, {"alert_mail": "alertmanager"}, {"smtp_host": None}]
)
def test_without_builtin_mail_states_are_recorded_and_nothing_is_queued(
    alert_store: Callable[..., Store], mail: dict[str, Any]
):
    store = alert_store({"for": "0s"}, **mail)
    add(store, outcomes(0, resolved=0, abandoned=10))
    assert evaluate_alerts(store, minute_us(1)) is True
    assert states(store) == [("bot-containment", "channel=bot-chat,kind=ai", FIRING, "breached")]
    assert outbox_rows(store) == []


def test_an_evaluation_older_than_the_stored_one_changes_nothing(alert_store):
    store = alert_store({"for": "0s"})
    add(store, outcomes(0, resolved=0, abandoned=10))
    assert evaluate_alerts(store, minute_us(5)) is True
    add(store, outcomes(0.5, resolved=40, abandoned=0))
    assert evaluate_alerts(store, minute_us(4)) is False  # a scheduler with a clock behind
    assert states(store)[0][2] == FIRING


def test_a_flip_whose_mail_cannot_be_queued_does_not_happen(alert_store):
    store = alert_store({"for": "0s"})
    add(store, outcomes(0, resolved=0, abandoned=10))
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE outbox RENAME TO outbox_away"))
    with pytest.raises(StoreError):
        evaluate_alerts(store, minute_us(1))
    assert alert_states(store) == []  # the state did not move without its mail
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE outbox_away RENAME TO outbox"))
    assert evaluate_alerts(store, minute_us(2)) is True
    assert mails(store) == [("firing", "channel=bot-chat,kind=ai")]


def test_two_schedulers_evaluating_at_once_queue_one_mail_per_flip(alert_store):
    """Two stores, each with its own connections, evaluate the same instants side by side
    while the data alternates between breached and met: every flip queues one mail."""
    first, second = alert_store({"for": "0s"}), alert_store({"for": "0s"})
    rounds = 12
    for i in range(rounds):  # minute 10 i: breached when i is even, met when odd
        good, bad = (1, 9) if i % 2 == 0 else (10, 0)
        add(first, outcomes(10 * i, resolved=good, abandoned=bad))
    barrier = threading.Barrier(2, timeout=30)
    flipped: list[bool] = []
    errors: list[BaseException] = []

    def scheduler(store: Store) -> None:
        try:
            for i in range(rounds):
                barrier.wait()
                flipped.append(evaluate_alerts(store, minute_us(10 * i + 1)))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=scheduler, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert flipped.count(True) == rounds  # one of the two flipped each time, never both
    kinds = [kind for kind, _group in mails(first)]
    assert kinds == ["firing", "resolved"] * (rounds // 2)
    with first.engine.connect() as conn:
        assert len(conn.execute(select(t.outbox.c.id)).all()) == rounds
