"""JSON Schemas of the API's bodies, as OpenAPI 3.1 components."""

from __future__ import annotations

from typing import Any


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


ERROR = ref("Error")


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _object(properties: dict[str, Any], required: list[str] | None = None,
            additional: bool | dict = True) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": additional}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
N_STR = _nullable("string")
N_INT = _nullable("integer")
N_NUM = _nullable("number")
N_TIME = _nullable("string", format="date-time")
SESSION_ID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
STATUS = {"type": "string", "enum": ["received", "parsing", "loading", "ready", "failed"]}
LAP_KIND = {"type": "string", "enum": ["out", "flying", "in", "partial"]}
SCALAR = {"type": ["number", "string", "boolean", "null"]}

SESSION = _object({
    "id": SESSION_ID, "status": STATUS, "reason": N_STR, "format": N_STR, "track": N_STR, "car": N_STR,
    "driver": N_STR, "session_type": N_STR, "start_time": N_TIME,
    "start_local": _nullable("string", description="Logger's local wall-clock time when the file "
                                                   "gives no time zone."),
    "start_time_ambiguous": BOOL, "device": N_STR, "producer": N_STR, "sample_rate_hz": N_NUM,
    "duration_s": N_NUM, "sample_count": N_INT, "samples_stored": INT, "chunk_count": N_INT,
    "chunks_loaded": INT, "created_at": TIME, "updated_at": TIME, "ready_at": N_TIME, "url": STR,
})

CHANNEL = _object({
    "name": STR, "source_unit": STR, "canonical": N_STR, "unit": STR, "rate_hz": N_NUM,
    "kind": {"type": "string", "enum": ["continuous", "discrete"]}, "provenance": STR, "group": N_STR,
    "column": _nullable("string", description="samples column; null when stored in samples.extra"),
    "extra_index": N_INT,
})

LAP_BRIEF = _object({
    "number": INT, "start_s": NUM, "end_s": NUM, "lap_time_s": N_NUM, "distance_m": N_NUM,
    "kind": LAP_KIND, "valid": BOOL, "reason": N_STR,
})

LAP = _object({
    **LAP_BRIEF["properties"], "max_speed_kmh": N_NUM, "mean_speed_kmh": N_NUM,
    "sector_times_s": {"type": "array", "items": N_NUM}, "source": STR, "producer_lap_time_s": N_NUM,
})

SESSION_DETAIL = _object({
    **SESSION["properties"],
    "quality": _nullable("object", description="Rows read and dropped, values clamped and out of "
                                               "range, per channel."),
    "metadata": _nullable("object"),
    "time_offset_s": N_NUM,
    "channels": {"type": "array", "items": ref("Channel")},
    "sources": {"type": "array", "items": _object({
        "bucket": STR, "object": STR, "generation": INT, "size_bytes": INT, "received_at": TIME})},
    "laps": {"type": "array", "items": ref("LapBrief")},
})

TELEMETRY = _object({
    "session_id": SESSION_ID, "lap": N_INT, "start_s": N_NUM, "end_s": N_NUM,
    "rows_read": {"type": "integer", "description": "Rows in the range before downsampling."},
    "points": {"type": "integer", "description": "Rows returned."},
    "downsample": {"type": ["string", "null"], "enum": ["minmax", "lttb", None]},
    "truncated": {"type": "boolean", "description": "Rows past the limit were left out."},
    "elapsed_s": {"type": "array", "items": NUM, "description": "Seconds from the session start."},
    "channels": {"type": "object", "additionalProperties": _object({
        "source_name": STR, "canonical": N_STR, "unit": STR,
        "integer": {"type": "boolean", "description": "Values are whole numbers (gear, lap number)."},
        "values": {"type": "array", "items": N_NUM}})},
})

LAP_SIDE = _object({
    "session_id": SESSION_ID, "lap": INT, "lap_time_s": N_NUM, "start_s": NUM, "end_s": NUM,
    "valid": BOOL, "kind": LAP_KIND,
    "distance_source": {"type": "string", "enum": ["lap_distance", "distance", "speed"]},
    "samples": INT, "length_m": NUM,
})

LAP_COMPARISON = _object({
    "a": ref("LapSide"), "b": ref("LapSide"), "points": INT, "compared_length_m": NUM,
    "final_delta_s": {"type": "number", "description": "b's time minus a's at the end of the grid."},
    "distance_m": {"type": "array", "items": NUM},
    "time_a_s": {"type": "array", "items": NUM}, "time_b_s": {"type": "array", "items": NUM},
    "delta_s": {"type": "array", "items": NUM,
                "description": "b's time minus a's at each distance: positive where b is behind."},
    "speed_a_kmh": {"type": ["array", "null"], "items": N_NUM},
    "speed_b_kmh": {"type": ["array", "null"], "items": N_NUM},
})

UPLOAD = _object({
    "upload_id": STR, "bucket": STR, "object": STR,
    "upload_url": STR, "method": {"type": "string", "enum": ["POST", "PUT"]},
    "headers": {"type": "object", "additionalProperties": STR},
    "kind": {"type": "string", "enum": ["signed_resumable_start", "resumable_session"]},
    "note": STR, "expires_at": TIME, "status_url": STR,
})

UPLOAD_STATUS = _object({
    "bucket": STR, "object": STR,
    "state": {"type": "string", "enum": ["pending", "received"],
              "description": "pending: handed out, no file received yet; received: the pipeline "
                             "registered the file as a session source."},
    "issued_at": N_TIME, "url_expires_at": N_TIME,
    "session": {"oneOf": [{"type": "null"}, _object({
        "id": SESSION_ID, "status": STATUS, "reason": N_STR, "generation": INT, "size_bytes": INT,
        "received_at": TIME, "url": STR})]},
})

PARSE_RESULT = _object({
    "file": STR, "format": STR, "metadata": {"type": "object"}, "sample_count": INT,
    "duration_s": N_NUM, "time_offset_s": N_NUM,
    "channels": {"type": "array", "items": _object({
        "name": STR, "source_unit": STR, "canonical": N_STR, "unit": STR, "rate_hz": N_NUM,
        "kind": STR, "provenance": STR, "group": N_STR, "column": N_STR})},
    "beacons_s": {"type": "array", "items": N_NUM},
    "producer_laps": {"type": "array", "items": {"type": "object"}},
    "quality": {"type": "object"},
    "warnings": {"type": "array", "items": STR},
    "laps": {"type": "array", "items": {"type": "object"}},
    "lap_summary": {"type": "object"},
})

TRAINING_ROW = {
    "type": "object", "required": ["subsession_id", "cust_id"],
    "properties": {"subsession_id": {"type": "integer", "minimum": 0},
                   "cust_id": {"type": "integer", "minimum": 0}},
    "additionalProperties": SCALAR,
    "description": "One row of ml_training_data: the key columns and any feature or target columns.",
}

COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": _object({"error": _object({"code": STR, "message": STR})}),
    "Health": _object({"status": {"type": "string", "enum": ["ok"]},
                       "database": {"type": "string", "enum": ["ok"]}}),
    "Session": SESSION,
    "SessionPage": _object({"items": {"type": "array", "items": ref("Session")},
                            "next_cursor": N_STR}),
    "SessionDetail": SESSION_DETAIL,
    "Channel": CHANNEL,
    "LapBrief": LAP_BRIEF,
    "Lap": LAP,
    "LapList": _object({"session_id": SESSION_ID, "best_lap": N_INT,
                        "laps": {"type": "array", "items": ref("Lap")}}),
    "Telemetry": TELEMETRY,
    "LapSide": LAP_SIDE,
    "LapComparison": LAP_COMPARISON,
    "Upload": UPLOAD,
    "UploadStatus": UPLOAD_STATUS,
    "ParseResult": PARSE_RESULT,
    "TrainingRow": TRAINING_ROW,
    "TrainingPage": _object({"items": {"type": "array", "items": {"type": "object",
                                                                   "additionalProperties": SCALAR}},
                             "next_cursor": N_STR}),
    "UpsertResult": _object({"inserted": INT, "updated": INT, "unchanged": INT}),
    "RebuildResult": {"type": "object", "required": ["mode"], "properties": {"mode": STR},
                      "additionalProperties": True},
}
