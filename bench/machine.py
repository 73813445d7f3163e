"""The one line every benchmark result gives about where it ran: the machine and its load, nothing else."""

from __future__ import annotations

import os


def load_average() -> str:
    """``uptime``'s load averages over 1, 5 and 15 minutes."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def describe(load_before: str | None = None) -> str:
    """``Machine: N cores, no GPU; load average (1, 5, 15 min) ...`` (before and after when given)."""
    when = f"{load_before} at the start and {load_average()} at the end" if load_before else load_average()
    return f"Machine: {os.cpu_count()} cores, no GPU; load average (1, 5, 15 min) {when}."
