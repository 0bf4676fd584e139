"""Getting public benchmark data into the layout the other commands read (``agentracer data ...``).

Each data set module says where the data comes from and under which license; ``docs/data.md`` lists them.
"""

from __future__ import annotations

from .who_and_when import SUBSETS, DataError, fetch_who_and_when, write_who_and_when

__all__ = ["SUBSETS", "DataError", "fetch_who_and_when", "write_who_and_when"]
