"""Numbers as JSON answers and events show them."""

from __future__ import annotations


def tidy_number(value: float, digits: int | None = None) -> int | float:
    """``3.0`` -> ``3``: a whole number stays an integer in JSON; ``digits``: rounded first."""
    number = float(value) if digits is None else round(float(value), digits)
    return int(number) if number.is_integer() else number
