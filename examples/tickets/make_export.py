"""Make requests.csv: a city's service requests, one row per ticket, as its portal exports.

Departments are named as people write them ("Solid Waste"), times are local to the city in
the portal's US format, request numbers went through pandas (a float column: "260001.0"),
requests marked as duplicates of another are in the export too, and two rows carry the
portal's placeholder for a missing close date. Deterministic: run it to make the file again.

    python examples/tickets/make_export.py > examples/tickets/requests.csv
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta

HEADER = "sr_number,department,sr_type,origin,status,created_date,first_update,closed_date"
DEPARTMENTS = {
    "Solid Waste": ["Missed pickup", "Bulk item pickup", "Cart repair"],
    "Streets & Sanitation": ["Pothole", "Street light out", "Graffiti removal"],
    "Water Management": ["Water main leak", "Low pressure"],
    "Animal Care & Control": ["Stray dog", "Noisy animal"],
}
ORIGINS = ["Phone", "Web", "Mobile App", "Email"]
START = datetime(2026, 11, 2, 7, 0)
BROKEN = "00/00/0000 12:00:00 AM"  # what the portal writes for a close it lost


def stamp(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%m/%d/%Y %I:%M:%S %p")


def tickets(rng: random.Random, count: int = 60) -> list[str]:
    rows = []
    for number in range(count):
        department = rng.choice(sorted(DEPARTMENTS))
        sr_type = rng.choice(DEPARTMENTS[department])
        created = START + timedelta(minutes=rng.randint(0, 2 * 24 * 60))
        update = created + timedelta(minutes=rng.randint(10, 600))
        closed = update + timedelta(hours=rng.randint(1, 40))
        roll = rng.random()
        if roll < 0.1:
            status, update_at, closed_at = "Open", None, None
        elif roll < 0.2:
            status, update_at, closed_at = "Canceled", update, closed
        elif roll < 0.28:
            status, update_at, closed_at = "Duplicate", None, created + timedelta(minutes=5)
        else:
            status, update_at, closed_at = "Completed", update, closed
        closed_text = stamp(closed_at)
        if number in (17, 41):
            status, closed_text = "Completed", BROKEN
        fields = [f"{260001 + number}.0", department, sr_type, rng.choice(ORIGINS), status,
                  stamp(created), stamp(update_at), closed_text]  # fmt: skip
        rows.append(",".join(fields))
    return rows


if __name__ == "__main__":
    sys.stdout.write(HEADER + "\n" + "".join(r + "\n" for r in tickets(random.Random(311))))
