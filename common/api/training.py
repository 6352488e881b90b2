"""Training-data endpoints: read and upsert rows of ``ml_training_data``.

The table belongs to the features package (migration 0002_results.sql). Its columns are read
from ``information_schema`` once per process, so new feature columns need no change here.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

import pg8000.native

from ..config import settings
from . import cursors, schemas, tables
from .app import connection, route
from .context import Context
from .encode import choose_format
from .errors import ApiError, invalid
from .params import Param
from .responses import CSV, JSON, PARQUET, Body, Reply, json_response

TABLE = "ml_training_data"
KEY = ("subsession_id", "cust_id")
MAX_PAGE = 5000
# Most rows one POST may carry.
MAX_UPSERT_ROWS = 10_000
_lock = threading.Lock()
_columns: dict[str, str] | None = None

ID_FILTERS = ("cust_id", "subsession_id", "track_id", "car_id", "car_class_id", "series_id",
              "season_id")
QUERY = tuple(Param(name, "integer", f"Only rows with this {name}.", minimum=0, maximum=2**63 - 1)
              for name in ID_FILTERS) + (
    Param("started_after", "datetime", "Only races that started at or after this time."),
    Param("started_before", "datetime", "Only races that started before this time."),
    Param("columns", "list", "Columns to return (default: all); the key columns are always included.",
          max_length=5000),
    Param("limit", "integer", "Rows per page.", default=1000, minimum=1, maximum=MAX_PAGE),
    Param("cursor", "string", "next_cursor of the previous page.", max_length=300),
    Param("format", "string", "Response format; overrides the Accept header.",
          choices=("json", "csv", "parquet")),
)


def columns(conn: pg8000.native.Connection) -> dict[str, str]:
    """Return the table's columns and their SQL types, in table order."""
    global _columns
    with _lock:
        if _columns is None:
            rows = conn.run(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :t ORDER BY ordinal_position",
                t=TABLE)
            if not rows:
                raise ApiError(503, "unavailable", f"table {TABLE} does not exist; run the migrations",
                               {"Retry-After": "60"})
            _columns = {name: sql_type for name, sql_type in rows}
        return _columns


@route("GET", "/v1/training-data", tag="training data", query=QUERY,
       responses={200: Reply(
           "A page of training rows, ordered by race start, subsession and driver. In CSV and "
           "Parquet the cursor of the next page is in the X-Next-Cursor header.",
           schemas.ref("TrainingPage"), (JSON, CSV, PARQUET),
           headers={"X-Next-Cursor": {"description": "Cursor of the next page (CSV and Parquet).",
                                      "schema": {"type": "string"}}})})
def read_rows(ctx: Context):
    """Read machine-learning training rows (one per driver per race) with filters."""
    q = ctx.query
    with connection() as conn:
        known = columns(conn)
        chosen = _chosen_columns(q["columns"], known)
        where, params = [], {}
        for name in ID_FILTERS:
            if q[name] is not None:
                # bigint on the parameter side: an id past an integer column's range matches nothing
                # instead of failing the query.
                where.append(f'"{name}" = CAST(:{name} AS bigint)')
                params[name] = q[name]
        if q["started_after"] is not None:
            where.append("start_time >= :started_after")
            params["started_after"] = q["started_after"]
        if q["started_before"] is not None:
            where.append("start_time < :started_before")
            params["started_before"] = q["started_before"]
        if q["cursor"]:
            when, subsession, cust = cursors.decode(q["cursor"], (str, int, int))
            where.append("(start_time, subsession_id, cust_id) > (CAST(:c_t AS timestamptz), :c_s, :c_c)")
            params.update(c_t=_cursor_time(when), c_s=subsession, c_c=cust)
        select = ", ".join(f'"{name}"' for name in dict.fromkeys(("start_time",) + KEY + tuple(chosen)))
        sql = f"SELECT {select} FROM {TABLE}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time, subsession_id, cust_id LIMIT :limit"
        rows = conn.run(sql, limit=q["limit"] + 1, **params)
    names = list(dict.fromkeys(("start_time",) + KEY + tuple(chosen)))
    page = rows[: q["limit"]]
    next_cursor = None
    if len(rows) > q["limit"]:
        last = page[-1]
        next_cursor = cursors.encode(last[0].isoformat(), last[1], last[2])
    positions = [names.index(name) for name in chosen]
    items = [[row[i] for i in positions] for row in page]

    fmt = choose_format(ctx.request, q["format"])
    headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
    if fmt == "csv":
        return tables.to_csv(chosen, items, "training-data.csv", headers)
    if fmt == "parquet":
        return tables.to_parquet(chosen, [known[c] for c in chosen], items, "training-data.parquet",
                                 headers)
    return json_response({"items": [dict(zip(chosen, item)) for item in items],
                          "next_cursor": next_cursor})


def _chosen_columns(requested: list[str] | None, known: dict[str, str]) -> list[str]:
    if not requested:
        return list(known)
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise invalid("columns", f"names unknown column {unknown[0]!r}")
    return list(dict.fromkeys(list(KEY) + requested))


def _cursor_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise invalid("cursor", "is not valid; pass next_cursor from the previous page unchanged") from None


UPSERT_BODY = Body(
    f"Rows keyed by (subsession_id, cust_id); at most {MAX_UPSERT_ROWS}. A new row must carry every "
    "NOT NULL column of the table; an existing row gets the given columns replaced.",
    {"type": "object", "required": ["rows"], "additionalProperties": False, "properties": {
        "rows": {"type": "array", "minItems": 1, "maxItems": MAX_UPSERT_ROWS,
                 "items": schemas.ref("TrainingRow")}}},
    max_bytes=lambda: settings().max_request_bytes,
)


@route("POST", "/v1/training-data", tag="training data", scope="write", body=UPSERT_BODY,
       responses={200: Reply("How many rows were inserted and updated.", schemas.ref("UpsertResult")),
                  413: Reply("The body is larger than MAX_REQUEST_BYTES.", schemas.ERROR)})
def upsert_rows(ctx: Context):
    """Insert or update training rows, keyed by subsession_id and cust_id."""
    rows = _validated_rows(ctx.json())
    inserted = updated = 0
    with connection() as conn:
        known = columns(conn)
        for row_number, row in enumerate(rows):
            unknown = [name for name in row if name not in known]
            if unknown:
                raise invalid(f"rows[{row_number}].{unknown[0]}", "is not a column of the training table")
        groups: dict[tuple[str, ...], list[dict]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(row)), []).append(row)
        conn.run("BEGIN")
        try:
            for names, group in groups.items():
                for was_inserted, in conn.run(_upsert_sql(names), rows=json.dumps(group)):
                    inserted += was_inserted
                    updated += not was_inserted
            conn.run("COMMIT")
        except pg8000.native.DatabaseError as exc:
            conn.run("ROLLBACK")
            error = _data_error(exc)
            if error is None:
                raise
            raise error from None
        except BaseException:
            conn.run("ROLLBACK")
            raise
    # Rows that carry only the key and already exist are left as they are.
    return {"inserted": inserted, "updated": updated, "unchanged": len(rows) - inserted - updated}


def _validated_rows(body: Any) -> list[dict]:
    if not isinstance(body, dict) or not isinstance(body.get("rows"), list):
        raise invalid("rows", "is required: send {\"rows\": [{...}, ...]}")
    if set(body) - {"rows"}:
        raise invalid(min(set(body) - {"rows"}), "is not a field of this request")
    rows = body["rows"]
    if not rows:
        raise invalid("rows", "must hold at least one row")
    if len(rows) > MAX_UPSERT_ROWS:
        raise invalid("rows", f"holds {len(rows)} rows; at most {MAX_UPSERT_ROWS} per request")
    seen = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise invalid(f"rows[{i}]", "must be a JSON object")
        for name in KEY:
            value = row.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
                raise invalid(f"rows[{i}].{name}", f"must be a non-negative integer, found {value!r}")
        for name, value in row.items():
            if isinstance(value, (dict, list)):
                raise invalid(f"rows[{i}].{name}", "must be a number, string, boolean or null")
        key = (row["subsession_id"], row["cust_id"])
        if key in seen:
            raise invalid(f"rows[{i}]", f"repeats subsession_id {key[0]} and cust_id {key[1]}")
        seen.add(key)
    return rows


def _upsert_sql(names: tuple[str, ...]) -> str:
    quoted = ", ".join(f'"{name}"' for name in names)
    updates = [f'"{name}" = EXCLUDED."{name}"' for name in names if name not in KEY]
    action = "DO UPDATE SET " + ", ".join(updates) if updates else "DO NOTHING"
    return (f"INSERT INTO {TABLE} ({quoted}) SELECT {quoted} FROM "
            f"json_populate_recordset(NULL::{TABLE}, CAST(:rows AS json)) "
            f"ON CONFLICT (subsession_id, cust_id) {action} RETURNING (xmax = 0)")


def _data_error(exc: pg8000.native.DatabaseError) -> ApiError | None:
    """Turn a constraint or type error of the upsert into a 422 that names the problem.

    Returns None for other database errors, which the caller re-raises.
    """
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    code = str(info.get("C", ""))
    if code.startswith(("22", "23")):
        detail = f"{info.get('M', exc)}" + (f" ({info['D']})" if info.get("D") else "")
        return ApiError(422, "invalid_parameter", f"rows rejected by the database: {detail}")
    return None
