"""Writing export rows as CSV or JSON, piece by piece (for a streamed response or stdout).

CSV cells that a spreadsheet would take for a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) get a leading apostrophe, as OWASP recommends against
formula injection: a display name ``=HYPERLINK(...)`` stays text when an admin opens the file.
So a catch-all ``@example.com`` is written ``'@example.com`` in CSV; JSON is left as it is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

FORMATS = ("csv", "json")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
FORMULA_STARTS = frozenset("=+-@\t\r")
#: Rows per piece handed to the response (fewer, larger writes than one per row).
ROWS_PER_PIECE = 500
# One encoder for every row: json.dumps() with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def neutralise(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula (called for every cell: kept cheap)."""
    if value.__class__ is str:
        return "'" + value if value and value[0] in FORMULA_STARTS else value
    if value is True or value is False:
        return int(value)
    return value


class _Line:
    """A file-like object whose ``write`` returns what was written (for ``csv.writer``)."""

    def write(self, value: str) -> str:
        return value


def csv_pieces(columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A header line, then the rows, in pieces of :data:`ROWS_PER_PIECE` lines."""
    columns = tuple(columns)
    writer = csv.writer(_Line())
    yield writer.writerow(columns)
    piece: list[str] = []
    for row in rows:
        piece.append(writer.writerow([neutralise(row[c]) for c in columns]))
        if len(piece) >= ROWS_PER_PIECE:
            yield "".join(piece)
            piece = []
    if piece:
        yield "".join(piece)


def json_pieces(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of objects, one per line, written as the rows come."""
    yield "["
    piece: list[str] = []
    first = True
    for row in rows:
        piece.append(("\n" if first else ",\n") + _ENCODER.encode(row))
        first = False
        if len(piece) >= ROWS_PER_PIECE:
            yield "".join(piece)
            piece = []
    yield "".join(piece) + "\n]\n"


def pieces(fmt: str, columns: Iterable[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    return csv_pieces(columns, rows) if fmt == "csv" else json_pieces(rows)
