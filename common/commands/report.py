"""Printing sessions for people: one line per session, and the detail that ``inspect`` shows."""

from __future__ import annotations

from typing import Any

from ..laps import Lap, summarize_laps
from ..model import Session


def fmt_duration(seconds: float | None) -> str:
    """Format seconds as m:ss.fff, or h:mm:ss.fff from one hour on."""
    if seconds is None:
        return "-"
    minutes, rest = divmod(float(seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{rest:06.3f}"
    return f"{minutes}:{rest:06.3f}"


def session_line(item: dict[str, Any], base_url: str = "") -> str:
    """Format one session as a line of ``simtel demo`` output, from the API's session JSON."""
    parts = [
        f"{item.get('status', '?'):7}",
        f"{item.get('format') or '-':12}",
        f"track={item.get('track') or '-'}",
        f"car={item.get('car') or '-'}",
        f"driver={item.get('driver') or '-'}",
        f"duration={fmt_duration(item.get('duration_s'))}",
        f"rate={_num(item.get('sample_rate_hz'))}" + ("Hz" if item.get("sample_rate_hz") else ""),
        f"channels={len(item.get('channels') or []) or '-'}",
        f"samples={item.get('samples_stored') or ('-' if item.get('status') == 'failed' else 0)}",
    ]
    laps = item.get("laps") or []
    valid = [lap for lap in laps if lap.get("valid") and lap.get("lap_time_s")]
    if laps:
        best = min((lap["lap_time_s"] for lap in valid), default=None)
        parts.append(f"laps={len(laps)} valid={len(valid)} best={fmt_duration(best) if best else '-'}")
    parts.append(f"{base_url}{item.get('url', '')}")
    line = "  ".join(parts)
    if item.get("status") == "failed" and item.get("reason"):
        line += f"\n        reason: {item['reason']}"
    return line


def describe_session(session: Session, laps: list[Lap]) -> dict[str, Any]:
    """Build the JSON that ``simtel inspect --json`` prints and ``POST /v1/parse`` returns."""
    return {
        "file": session.file,
        "format": session.format,
        "metadata": session.metadata.as_dict(),
        "sample_count": session.sample_count,
        "duration_s": session.duration_s,
        "time_offset_s": session.time_offset_s,
        "channels": [
            {"name": ch.source_name, "source_unit": ch.source_unit, "canonical": ch.canonical,
             "unit": ch.unit, "rate_hz": ch.rate_hz, "kind": ch.kind, "provenance": ch.provenance,
             "group": ch.group, "column": ch.column}
            for ch in session.channels
        ],
        "beacons_s": session.beacons_s,
        "producer_laps": [lap.__dict__ for lap in session.producer_laps],
        "quality": session.quality,
        "warnings": session.warnings,
        "laps": [lap_json(lap) for lap in laps],
        "lap_summary": summarize_laps(laps),
    }


def describe_text(session: Session) -> str:
    """Format a readable report of one parsed file."""
    md = session.metadata
    lines = [
        f"file        {session.file}",
        f"format      {session.format}",
        f"track       {md.track or '-'}",
        f"car         {md.car or '-'}",
        f"driver      {md.driver or '-'}",
        f"session     {md.session_type or '-'}",
        f"start       {md.start_time.isoformat() if md.start_time else '-'}"
        + ("  (day/month order ambiguous)" if md.start_time_ambiguous else ""),
        f"device      {md.device or '-'}  producer {md.producer or '-'}",
        f"samples     {session.sample_count}  duration {fmt_duration(session.duration_s)}  "
        f"rate {_num(md.sample_rate_hz)} Hz",
        f"channels    {len(session.channels)}",
    ]
    width = max((len(ch.source_name) for ch in session.channels), default=4)
    for ch in session.channels:
        q = session.quality["channels"].get(ch.source_name, {})
        lines.append(
            f"  {ch.source_name:{width}}  [{ch.source_unit or '-'}]  -> "
            f"{ch.canonical or '(kept as is)'} [{ch.unit or '-'}]  {_num(ch.rate_hz)} Hz  {ch.kind}"
            f"  missing {q.get('missing', 0)}, clamped {q.get('clamped', 0)}, "
            f"out of range {q.get('out_of_range', 0)}"
        )
    q = session.quality
    lines.append(f"quality     rows read {q['rows_read']}, dropped {q['rows_dropped'] or 0}, "
                 f"clamped {q['values_clamped']}, out of range {q['values_out_of_range']}")
    if session.beacons_s:
        lines.append("beacons     " + ", ".join(f"{b:.3f}" for b in session.beacons_s))
    for warning in session.warnings:
        lines.append(f"warning     {warning}")
    return "\n".join(lines)


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{float(value):g}"


def lap_json(lap: Lap) -> dict[str, Any]:
    """Return one detected lap as JSON."""
    return {
        "number": lap.number, "kind": lap.kind, "valid": lap.valid, "reason": lap.reason,
        "start_s": lap.start_s, "end_s": lap.end_s, "lap_time_s": lap.lap_time_s,
        "distance_m": lap.distance_m, "max_speed_kmh": lap.max_speed_kmh,
        "mean_speed_kmh": lap.mean_speed_kmh, "sector_times_s": list(lap.sector_times_s),
        "source": lap.source,
    }
