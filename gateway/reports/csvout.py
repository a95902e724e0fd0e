"""CSV answers: asked for by ``?format=csv`` or ``Accept: text/csv``, streamed a page
of rows at a time, so a listing of any size holds one page in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from aiohttp import web

from core.tabular import flat
from gateway.api.params import BadParameter

_FORMATS = ("json", "csv")
# rows a CSV listing reads at a time: big enough that a page's fixed costs (a query,
# a write) fade, small enough that memory stays flat (a few MB)
CSV_PAGE = 5000


def wants_csv(request: web.Request) -> bool:
    chosen = request.query.get("format")
    if chosen is not None:
        if chosen not in _FORMATS:
            raise BadParameter(f"format must be json or csv, got {chosen[:20]!r}")
        return chosen == "csv"
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _text(rows: Iterable[Mapping[str, Any]], columns: list[str], header: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\r\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


async def stream_cells(
    request: web.Request,
    filename: str,
    pages: AsyncIterator[tuple[list[str], list[Any]]],
) -> web.StreamResponse:
    """Rows already made cells (``gateway.api.csv_lists``): (columns, rows) a page at a
    time, the header from the first page."""
    response = _csv_response(filename)
    started = False
    async for columns, rows in pages:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if not started:
            await response.prepare(request)
            writer.writerow(columns)
            started = True
        writer.writerows(rows)
        await response.write(buffer.getvalue().encode())
    if not started:
        await response.prepare(request)
    await response.write_eof()
    return response


def _csv_response(filename: str) -> web.StreamResponse:
    return web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
    )


def report_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A report as one table: its lists of rows under a ``table`` column, its single
    figures as rows of the table ``figures`` (key, value)."""
    figures: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []

    def walk(value: Mapping[str, Any], prefix: str) -> None:
        for key, item in value.items():
            name = f"{prefix}{key}"
            if isinstance(item, list) and all(isinstance(row, Mapping) for row in item):
                tables.extend({"table": name, **flat(row)} for row in item)
            elif isinstance(item, Mapping):
                walk(item, f"{name}.")
            else:
                figures.append({"table": "figures", "key": name, **flat({"value": item})})

    walk(report, "")
    return figures + tables


def report_csv(report: Mapping[str, Any]) -> bytes:
    rows = report_rows(report)
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return _text(rows, columns, header=True)
