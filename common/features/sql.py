"""SQL of the feature build.

The build runs in one transaction over temporary tables:

1. ``ml_entries``: one row per driver of every race (the main race simsession of a subsession)
   that has a start time. Races are ordered by ``(start_time, subsession_id)``; "earlier"
   always means earlier in that order.
2. ``ml_targets`` (incremental builds only): the (race, driver) rows to recompute.
3. one table per feature group (``FEATURE_STEPS``), then ``ml_new``, the feature rows
   (``FEATURES_SQL``), each with the filters of the mode.

Leakage rule: a row's features use the row's own race only through facts fixed before the
start (grid, field, every driver's ``oldi_rating``, weather, car, track) and otherwise only
races that come strictly before it. Its targets are the race's outcome.
"""

from __future__ import annotations

# iRacing's simsession_type of a race simsession.
SIMSESSION_TYPE_RACE = 6

ENTRIES_SQL = f"""
CREATE TEMP TABLE ml_entries ON COMMIT DROP AS
WITH race_sim AS (
    -- The main race of a subsession: its race simsession with the highest number (heat
    -- events have several; the feature is numbered 0).
    SELECT subsession_id, max(simsession_number) AS simsession_number
    FROM ir_simsessions
    WHERE simsession_type = {SIMSESSION_TYPE_RACE}
       OR (simsession_type IS NULL AND upper(simsession_name) LIKE '%RACE%')
    GROUP BY subsession_id
)
SELECT r.subsession_id, r.cust_id, r.simsession_number, s.start_time, s.track_id,
       se.series_id, s.season_id, s.license_category_id, r.car_id, r.car_class_id, r.team_id,
       -- Orders the entries of a race so that the drivers of one team are peers.
       coalesce(r.team_id, 0) AS entry_team,
       CASE WHEN r.team_id IS NULL THEN r.cust_id ELSE 0 END AS entry_driver,
       r.finish_position_1, r.finish_position_in_class_1,
       r.starting_position_1, r.starting_position_in_class_1,
       r.incidents, r.laps_complete,
       coalesce(r.reason_out_id <> 0, r.reason_out <> 'Running') AS dnf,
       r.oldi_rating, r.newi_rating, r.old_safety_rating, r.new_safety_rating,
       r.old_license_level
FROM ir_results r
JOIN race_sim USING (subsession_id, simsession_number)
JOIN ir_subsessions s USING (subsession_id)
LEFT JOIN ir_seasons se ON se.season_id = s.season_id
WHERE s.start_time IS NOT NULL
"""

# Per linked telemetry session: the valid laps' count, sums (numeric, so that the result does
# not depend on the order of summation) and best lap. A session is linked to a race and a
# driver by the subsession_id and cust_id that the .ibt reader stores in its metadata.
TELEMETRY_SQL = """
SELECT s.session_key, link.subsession_id, link.cust_id,
       count(*) AS valid_laps,
       sum(l.lap_time_s::numeric) AS lap_time_sum_s,
       sum(l.lap_time_s::numeric * l.lap_time_s::numeric) AS lap_time_sq_sum_s2,
       min(l.lap_time_s) AS best_lap_s
FROM sessions s
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.metadata -> 'extra' ->> 'subsession_id' ~ '^[0-9]{1,18}$'
                THEN (s.metadata -> 'extra' ->> 'subsession_id')::bigint END AS subsession_id,
           CASE WHEN s.metadata -> 'extra' ->> 'cust_id' ~ '^[0-9]{1,18}$'
                THEN (s.metadata -> 'extra' ->> 'cust_id')::bigint END AS cust_id
) link
JOIN laps l ON l.session_key = s.session_key AND l.valid AND l.lap_time_s > 0
WHERE link.subsession_id IS NOT NULL AND link.cust_id IS NOT NULL AND s.status <> 'failed'
GROUP BY s.session_key, link.subsession_id, link.cust_id
"""

# Filters of an incremental build; a full build uses none. Each one keeps the complete history
# that its window needs: every race of the affected drivers, every race at the affected tracks.
DRIVER_FILTER = "WHERE e.cust_id IN (SELECT cust_id FROM ml_affected_drivers)"
RACE_FILTER = ("WHERE e.subsession_id IN (SELECT subsession_id FROM ml_affected_races) "
               "OR e.track_id IN (SELECT track_id FROM ml_affected_tracks)")
OPPONENT_FILTER = "WHERE e.subsession_id IN (SELECT subsession_id FROM ml_affected_races)"
TARGET_FILTER = ("WHERE (e.subsession_id, e.cust_id) IN "
                 "(SELECT subsession_id, cust_id FROM ml_targets)")

# The feature groups as (temporary table, query) pairs. Each table is analyzed before the next
# step, so that the planner has statistics on its size.
FEATURE_STEPS = (
    ("ml_form", """
-- The driver's form over previous races. w5 holds the 5 latest earlier races; rating trends
-- use the 5 latest earlier races of the same license category (c5), because iRating and
-- safety rating are kept per category.
SELECT subsession_id, cust_id,
       count(*) OVER w_all AS prior_races,
       count(*) OVER w5 AS form_races,
       avg(finish_position_1) OVER w5 AS form_finish_position_mean,
       avg(incidents) OVER w5 AS form_incidents_mean,
       avg(dnf::integer) OVER w5 AS form_dnf_rate,
       avg((finish_position_1 = 1)::integer) OVER w5 AS form_win_rate,
       avg((finish_position_1 <= 5)::integer) OVER w5 AS form_top5_rate,
       avg((finish_position_1 <= 10)::integer) OVER w5 AS form_top10_rate,
       avg(newi_rating - oldi_rating) OVER c5 AS form_irating_delta_mean,
       regr_slope(newi_rating, category_seq) OVER c5 AS form_irating_slope_per_race,
       avg(new_safety_rating - old_safety_rating) OVER c5 AS form_safety_rating_delta_mean,
       extract(epoch FROM start_time - lag(start_time) OVER w) / 86400.0
           AS days_since_last_race,
       count(*) OVER wt AS driver_track_prior_races,
       avg(finish_position_1) OVER wt AS driver_track_finish_position_mean
FROM (
    SELECT e.*,
           row_number() OVER (PARTITION BY e.cust_id, e.license_category_id
                              ORDER BY e.start_time, e.subsession_id) AS category_seq
    FROM ml_entries e
    {driver_filter}
) driver_rows
WINDOW w AS (PARTITION BY cust_id ORDER BY start_time, subsession_id),
       w5 AS (w ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING),
       w_all AS (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
       c5 AS (PARTITION BY cust_id, license_category_id ORDER BY start_time, subsession_id
              ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING),
       wt AS (PARTITION BY cust_id, track_id ORDER BY start_time, subsession_id
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
"""),
    ("ml_race_stats", """
SELECT e.subsession_id, min(e.track_id) AS track_id, min(e.start_time) AS start_time,
       count(DISTINCT e.team_id) + count(*) FILTER (WHERE e.team_id IS NULL) AS field_size,
       bool_or(e.team_id IS NOT NULL) AS team_event,
       sum(e.incidents) AS incidents, count(e.incidents) AS incident_rows,
       sum(e.laps_complete) AS laps_complete,
       count(*) FILTER (WHERE e.dnf) AS dnfs, count(e.dnf) AS dnf_rows,
       -- Strength of field from every driver's iRating before the race, with the formula
       -- commonly used for iRacing: 1600 / ln 2 * ln(n / sum(exp(-iRating * ln 2 / 1600))).
       -- On the real race tested it gives 1680 where the API reports 1683.
       1600.0 / ln(2.0) * ln((count(e.oldi_rating)
           / nullif(sum(exp(-e.oldi_rating * ln(2.0) / 1600.0)::numeric), 0))::float8)
           AS field_irating_sof
FROM ml_entries e
{race_filter}
GROUP BY e.subsession_id
"""),
    ("ml_track", """
-- The track's incident and DNF rates in all earlier races at the same track_id.
SELECT subsession_id,
       count(*) OVER wt AS track_prior_races,
       (sum(incidents) OVER wt)::float8 / nullif(sum(incident_rows) OVER wt, 0)
           AS track_incidents_per_driver,
       100.0 * sum(incidents) OVER wt / nullif(sum(laps_complete) OVER wt, 0)
           AS track_incidents_per_100_laps,
       (sum(dnfs) OVER wt)::float8 / nullif(sum(dnf_rows) OVER wt, 0) AS track_dnf_rate
FROM ml_race_stats
WHERE track_id IS NOT NULL
WINDOW wt AS (PARTITION BY track_id ORDER BY start_time, subsession_id
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
"""),
    ("ml_class_stats", """
SELECT e.subsession_id, e.car_class_id,
       count(DISTINCT e.team_id) + count(*) FILTER (WHERE e.team_id IS NULL)
           AS class_field_size
FROM ml_entries e
{opponent_filter}
GROUP BY e.subsession_id, e.car_class_id
"""),
    ("ml_opponents", """
-- Every other entry of the race: EXCLUDE GROUP leaves out the driver and, in a team event,
-- the driver's teammates (the rows that share entry_team and entry_driver).
SELECT subsession_id, cust_id,
       avg(oldi_rating) OVER wo AS opp_irating_mean,
       min(oldi_rating) OVER wo AS opp_irating_min,
       max(oldi_rating) OVER wo AS opp_irating_max
FROM ml_entries e
{opponent_filter}
WINDOW wo AS (PARTITION BY subsession_id ORDER BY entry_team, entry_driver
              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE GROUP)
"""),
    ("ml_tel", """
-- Telemetry of the driver's sessions linked to strictly earlier races; this race's own
-- telemetry records its outcome and would leak the targets.
WITH telemetry AS (
    SELECT t.*, s.start_time, s.track_id,
           CASE WHEN t.valid_laps >= 2 THEN
               sqrt(((t.lap_time_sq_sum_s2 - t.lap_time_sum_s ^ 2 / t.valid_laps)
                     / (t.valid_laps - 1))::float8)
               / (t.lap_time_sum_s / t.valid_laps)::float8
           END AS lap_cv
    FROM ml_telemetry_sessions t
    JOIN ir_subsessions s USING (subsession_id)
    WHERE s.start_time IS NOT NULL
)
SELECT e.subsession_id, e.cust_id,
       count(*) AS tel_prior_sessions,
       min(t.best_lap_s) FILTER (WHERE t.track_id = e.track_id) AS tel_track_best_lap_s,
       sum(t.valid_laps) FILTER (WHERE t.track_id = e.track_id) AS track_n,
       sum(t.lap_time_sum_s) FILTER (WHERE t.track_id = e.track_id) AS track_sum,
       sum(t.lap_time_sq_sum_s2) FILTER (WHERE t.track_id = e.track_id) AS track_sq_sum,
       avg(t.lap_cv) AS tel_lap_cv_mean
FROM ml_entries e
JOIN telemetry t ON t.cust_id = e.cust_id
    AND (t.start_time, t.subsession_id) < (e.start_time, e.subsession_id)
{target_filter}
GROUP BY e.subsession_id, e.cust_id
"""),
)

FEATURES_SQL = """
CREATE TEMP TABLE ml_new ON COMMIT DROP AS
SELECT e.subsession_id, e.cust_id, e.simsession_number, e.start_time, e.series_id,
       e.season_id, e.track_id, e.car_id, e.car_class_id, e.license_category_id,
       rs.team_event,
       e.starting_position_1, e.starting_position_in_class_1,
       rs.field_size, cs.class_field_size,
       e.oldi_rating, e.old_safety_rating, e.old_license_level,
       o.opp_irating_mean, o.opp_irating_min, o.opp_irating_max, rs.field_irating_sof,
       e.oldi_rating - o.opp_irating_mean AS irating_minus_opp_mean,
       f.prior_races, f.form_races, f.form_finish_position_mean, f.form_incidents_mean,
       f.form_dnf_rate, f.form_win_rate, f.form_top5_rate, f.form_top10_rate,
       f.form_irating_delta_mean, f.form_irating_slope_per_race,
       f.form_safety_rating_delta_mean, f.days_since_last_race,
       f.driver_track_prior_races, f.driver_track_finish_position_mean,
       coalesce(tr.track_prior_races, 0) AS track_prior_races,
       tr.track_incidents_per_driver, tr.track_incidents_per_100_laps, tr.track_dnf_rate,
       w.air_temp_c, w.rel_humidity_pct, w.skies, w.wind_speed_kmh, w.precip_time_pct,
       coalesce(tel.tel_prior_sessions, 0) AS tel_prior_sessions,
       tel.tel_track_best_lap_s,
       CASE WHEN tel.track_n >= 2 THEN
           sqrt(((tel.track_sq_sum - tel.track_sum ^ 2 / tel.track_n) / (tel.track_n - 1))::float8)
       END AS tel_track_lap_std_s,
       tel.tel_lap_cv_mean,
       e.finish_position_1 AS target_finish_position_1,
       e.finish_position_in_class_1 AS target_finish_position_in_class_1,
       e.incidents AS target_incidents,
       e.dnf AS target_dnf,
       e.newi_rating - e.oldi_rating AS target_irating_delta
FROM ml_entries e
JOIN ml_form f ON f.subsession_id = e.subsession_id AND f.cust_id = e.cust_id
JOIN ml_race_stats rs ON rs.subsession_id = e.subsession_id
JOIN ml_opponents o ON o.subsession_id = e.subsession_id AND o.cust_id = e.cust_id
LEFT JOIN ml_class_stats cs ON cs.subsession_id = e.subsession_id
    AND cs.car_class_id = e.car_class_id
LEFT JOIN ml_track tr ON tr.subsession_id = e.subsession_id
LEFT JOIN ir_subsession_weather w ON w.subsession_id = e.subsession_id
LEFT JOIN ml_tel tel ON tel.subsession_id = e.subsession_id AND tel.cust_id = e.cust_id
{target_filter}
"""

# Columns of ml_training_data written by the build (every column of the table).
COLUMNS = (
    "subsession_id", "cust_id", "simsession_number", "start_time", "series_id", "season_id",
    "track_id", "car_id", "car_class_id", "license_category_id", "team_event",
    "starting_position_1", "starting_position_in_class_1", "field_size", "class_field_size",
    "oldi_rating", "old_safety_rating", "old_license_level",
    "opp_irating_mean", "opp_irating_min", "opp_irating_max", "field_irating_sof",
    "irating_minus_opp_mean",
    "prior_races", "form_races", "form_finish_position_mean", "form_incidents_mean",
    "form_dnf_rate", "form_win_rate", "form_top5_rate", "form_top10_rate",
    "form_irating_delta_mean", "form_irating_slope_per_race", "form_safety_rating_delta_mean",
    "days_since_last_race", "driver_track_prior_races", "driver_track_finish_position_mean",
    "track_prior_races", "track_incidents_per_driver", "track_incidents_per_100_laps",
    "track_dnf_rate",
    "air_temp_c", "rel_humidity_pct", "skies", "wind_speed_kmh", "precip_time_pct",
    "tel_prior_sessions", "tel_track_best_lap_s", "tel_track_lap_std_s", "tel_lap_cv_mean",
    "target_finish_position_1", "target_finish_position_in_class_1", "target_incidents",
    "target_dnf", "target_irating_delta",
)
KEY = ("subsession_id", "cust_id")


def upsert_sql() -> str:
    """Upsert ``ml_new`` into ml_training_data, writing only rows whose values changed."""
    cols = ", ".join(COLUMNS)
    values = [c for c in COLUMNS if c not in KEY]
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in values)
    old = ", ".join(f"m.{c}" for c in values)
    new = ", ".join(f"EXCLUDED.{c}" for c in values)
    return (f"INSERT INTO ml_training_data AS m ({cols}) SELECT {cols} FROM ml_new "
            f"ON CONFLICT (subsession_id, cust_id) DO UPDATE SET {assignments} "
            f"WHERE ({old}) IS DISTINCT FROM ({new})")
