"""Lap summaries and the lap table that the command line prints."""

from __future__ import annotations

from typing import Any

from .model import Lap


def summarize_laps(laps: list[Lap]) -> dict[str, Any]:
    """Return counts, the best valid lap and the mean valid lap time (s) of ``laps``.

    Keys: ``count``, ``valid_count``, ``best_lap_number`` and ``best_lap_time_s`` (None without a
    valid lap), ``mean_valid_lap_time_s`` (None without a valid lap).
    """
    valid = [lap for lap in laps if lap.valid]
    best = min(valid, key=lambda lap: lap.lap_time_s) if valid else None
    mean = round(sum(lap.lap_time_s for lap in valid) / len(valid), 3) if valid else None
    return {
        "count": len(laps),
        "valid_count": len(valid),
        "best_lap_number": best.number if best else None,
        "best_lap_time_s": best.lap_time_s if best else None,
        "mean_valid_lap_time_s": mean,
    }


def format_lap_time(seconds: float | None) -> str:
    """Format seconds as ``m:ss.mmm`` (``h:mm:ss.mmm`` from one hour), or ``-`` for None."""
    if seconds is None:
        return "-"
    millis = round(seconds * 1000)
    sign = "-" if millis < 0 else ""
    millis = abs(millis)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}.{ms:03d}"
    return f"{sign}{minutes}:{secs:02d}.{ms:03d}"


def format_lap_table(laps: list[Lap]) -> str:
    """Return a plain-text table of ``laps`` with a summary line; the best valid lap has a ``*``."""
    if not laps:
        return "no laps"
    summary = summarize_laps(laps)
    best = summary["best_lap_number"]
    show_producer = any(lap.producer_lap_time_s is not None for lap in laps)
    show_sectors = any(lap.sector_times_s for lap in laps)

    header = ["lap", "kind", "valid", "start s", "time", "dist m", "max km/h", "mean km/h"]
    if show_producer:
        header.append("producer")
    if show_sectors:
        header.append("sectors s")
    header.append("note")

    rows = []
    for lap in laps:
        row = [
            f"{lap.number}{'*' if lap.number == best and lap.valid else ''}",
            lap.kind,
            "yes" if lap.valid else "no",
            f"{lap.start_s:.3f}",
            format_lap_time(lap.lap_time_s),
            _fixed(lap.distance_m, 0),
            _fixed(lap.max_speed_kmh, 1),
            _fixed(lap.mean_speed_kmh, 1),
        ]
        if show_producer:
            row.append(format_lap_time(lap.producer_lap_time_s))
        if show_sectors:
            row.append(" ".join(f"{s:.3f}" for s in lap.sector_times_s) or "-")
        row.append(lap.reason or "")
        rows.append(row)

    widths = [max(len(header[c]), *(len(r[c]) for r in rows)) for c in range(len(header))]
    numeric = {0, 3, 4, 5, 6, 7} | ({8} if show_producer else set())
    lines = [_join(header, widths, numeric), _join(["-" * w for w in widths], widths, numeric)]
    lines += [_join(row, widths, numeric) for row in rows]

    sources = sorted({lap.source for lap in laps} - {"none"})
    count = summary["count"]
    tail = f"{count} lap{'s' if count != 1 else ''}, {summary['valid_count']} valid"
    if best is not None:
        tail += (f"; best lap {best}: {format_lap_time(summary['best_lap_time_s'])}"
                 f"; mean valid {format_lap_time(summary['mean_valid_lap_time_s'])}")
    tail += f"; boundaries from {', '.join(sources)}" if sources else "; no lap boundaries found"
    lines.append(tail)
    return "\n".join(lines)


def _fixed(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _join(cells: list[str], widths: list[int], right_aligned: set[int]) -> str:
    parts = []
    for c, (cell, width) in enumerate(zip(cells, widths)):
        parts.append(cell.rjust(width) if c in right_aligned else cell.ljust(width))
    return "  ".join(parts).rstrip()
