-- iRacing race results, lap data and the machine-learning training table built from them.
--
-- The iRacing entities get their own ir_* tables keyed by iRacing's numeric ids instead of
-- reusing tracks, cars and drivers from 0001_core.sql. Those tables are keyed by the free-text
-- names found in log files: two iRacing members with the same display name would merge into one
-- driver, and one iRacing track id names one track configuration, not one track name. A
-- telemetry session is linked to its race through sessions.metadata -> 'extra' ->>
-- 'subsession_id' and ->> 'cust_id', which the .ibt reader fills.
--
-- Units: durations in seconds (columns ending in _s), converted from the API's 1/10,000 s.
-- Positions: finish_position and the other *_position columns keep the API's 0-based values;
-- the *_position_1 columns are the same positions 1-based (the winner is 1).
-- "None": the API's -1 and missing fields are stored as NULL.
-- Lookup tables such as ir_event_types keep each code's name in one place (3NF).

CREATE TABLE ir_categories (
    category_id integer PRIMARY KEY,
    name text
);
COMMENT ON TABLE ir_categories IS
    'iRacing categories (road, oval, dirt...), shared by tracks and license categories.';

CREATE TABLE ir_event_types (
    event_type integer PRIMARY KEY,
    name text
);

CREATE TABLE ir_simsession_types (
    simsession_type integer PRIMARY KEY,
    name text
);

CREATE TABLE ir_series (
    series_id integer PRIMARY KEY,
    series_name text,
    series_short_name text
);

CREATE TABLE ir_seasons (
    season_id integer PRIMARY KEY,
    series_id integer NOT NULL REFERENCES ir_series,
    season_name text,
    season_short_name text,
    season_year integer,
    season_quarter integer
);

CREATE TABLE ir_tracks (
    track_id integer PRIMARY KEY,
    track_name text,
    config_name text,
    category_id integer REFERENCES ir_categories
);
COMMENT ON TABLE ir_tracks IS 'One row per iRacing track configuration (iRacing''s track_id).';

CREATE TABLE ir_cars (
    car_id integer PRIMARY KEY,
    car_name text
);

CREATE TABLE ir_car_classes (
    car_class_id integer PRIMARY KEY,
    name text,
    short_name text
);

CREATE TABLE ir_drivers (
    cust_id bigint PRIMARY KEY,
    display_name text
);
COMMENT ON TABLE ir_drivers IS 'iRacing members by cust_id; display_name is the latest stored.';

CREATE TABLE ir_teams (
    team_id bigint PRIMARY KEY,
    display_name text
);

CREATE TABLE ir_subsessions (
    subsession_id bigint PRIMARY KEY,
    session_id bigint,
    -- NULL for sessions outside a season (hosted, league); then the series is unknown too.
    season_id integer REFERENCES ir_seasons,
    race_week_num integer,
    track_id integer REFERENCES ir_tracks,
    event_type integer REFERENCES ir_event_types,
    license_category_id integer REFERENCES ir_categories,
    official_session boolean,
    -- NULL when the payload has no start time; such races get no training features.
    start_time timestamptz,
    end_time timestamptz,
    event_strength_of_field integer,
    num_drivers integer,
    event_laps_complete integer,
    event_average_lap_s double precision,
    event_best_lap_time_s double precision,
    num_cautions integer,
    num_caution_laps integer,
    num_lead_changes integer,
    max_team_drivers integer,
    corners_per_lap integer,
    -- Name of the file (or other source) the result was last stored from.
    source_name text NOT NULL
);
CREATE INDEX ir_subsessions_start_idx ON ir_subsessions (start_time, subsession_id);
CREATE INDEX ir_subsessions_track_idx ON ir_subsessions (track_id, start_time, subsession_id);

CREATE TABLE ir_subsession_weather (
    subsession_id bigint PRIMARY KEY REFERENCES ir_subsessions ON DELETE CASCADE,
    air_temp_c double precision,
    rel_humidity_pct double precision,
    -- iRacing's sky code: 0 clear, 1 partly cloudy, 2 mostly cloudy, 3 overcast.
    skies integer,
    wind_speed_kmh double precision,
    wind_dir integer,
    precip_time_pct double precision,
    fog_pct double precision
);

CREATE TABLE ir_simsessions (
    subsession_id bigint NOT NULL REFERENCES ir_subsessions ON DELETE CASCADE,
    -- iRacing's numbering: 0 is the main event, -1, -2, ... the simsessions before it.
    simsession_number integer NOT NULL,
    simsession_type integer REFERENCES ir_simsession_types,
    simsession_name text,
    simsession_subtype integer,
    PRIMARY KEY (subsession_id, simsession_number)
);

CREATE TABLE ir_team_results (
    subsession_id bigint NOT NULL,
    simsession_number integer NOT NULL,
    team_id bigint NOT NULL REFERENCES ir_teams,
    car_id integer REFERENCES ir_cars,
    car_class_id integer REFERENCES ir_car_classes,
    finish_position integer CHECK (finish_position >= 0),
    finish_position_1 integer GENERATED ALWAYS AS (finish_position + 1) STORED,
    finish_position_in_class integer CHECK (finish_position_in_class >= 0),
    starting_position integer CHECK (starting_position >= 0),
    starting_position_in_class integer CHECK (starting_position_in_class >= 0),
    incidents integer,
    laps_complete integer,
    laps_led integer,
    reason_out_id integer,
    reason_out text,
    best_lap_time_s double precision,
    average_lap_time_s double precision,
    PRIMARY KEY (subsession_id, simsession_number, team_id),
    FOREIGN KEY (subsession_id, simsession_number) REFERENCES ir_simsessions ON DELETE CASCADE
);

-- One row per driver per simsession. In a team event the driver rows carry the team_id, and
-- the car, positions and finish status that the API reports for the driver (the team's when
-- the driver row lacks them); incidents, laps and ratings are the driver's own.
CREATE TABLE ir_results (
    subsession_id bigint NOT NULL,
    simsession_number integer NOT NULL,
    cust_id bigint NOT NULL REFERENCES ir_drivers,
    team_id bigint REFERENCES ir_teams,
    car_id integer REFERENCES ir_cars,
    car_class_id integer REFERENCES ir_car_classes,
    finish_position integer CHECK (finish_position >= 0),
    finish_position_1 integer GENERATED ALWAYS AS (finish_position + 1) STORED,
    finish_position_in_class integer CHECK (finish_position_in_class >= 0),
    finish_position_in_class_1 integer
        GENERATED ALWAYS AS (finish_position_in_class + 1) STORED,
    starting_position integer CHECK (starting_position >= 0),
    starting_position_1 integer GENERATED ALWAYS AS (starting_position + 1) STORED,
    starting_position_in_class integer CHECK (starting_position_in_class >= 0),
    starting_position_in_class_1 integer
        GENERATED ALWAYS AS (starting_position_in_class + 1) STORED,
    incidents integer,
    laps_complete integer,
    laps_led integer,
    -- 0 with reason_out 'Running' for a driver still running at the finish; any other value
    -- (such as 32 'Disconnected') is a DNF.
    reason_out_id integer,
    reason_out text,
    oldi_rating integer,
    newi_rating integer,
    old_license_level integer,
    new_license_level integer,
    -- Safety ratings as shown in iRacing (3.47), from the API's sub_level hundredths.
    old_safety_rating numeric(5, 2),
    new_safety_rating numeric(5, 2),
    best_lap_time_s double precision,
    best_lap_num integer,
    average_lap_time_s double precision,
    qual_lap_time_s double precision,
    -- Gap to the leader (of the class); 0 for the leader, NULL for a lapped car.
    interval_s double precision,
    class_interval_s double precision,
    champ_points integer,
    ai boolean,
    PRIMARY KEY (subsession_id, simsession_number, cust_id),
    FOREIGN KEY (subsession_id, simsession_number) REFERENCES ir_simsessions ON DELETE CASCADE
);
CREATE INDEX ir_results_cust_idx ON ir_results (cust_id);

-- Laps from the API's lap data. No foreign key to ir_subsessions: lap data can be stored
-- before (or without) the result of its subsession.
CREATE TABLE ir_laps (
    subsession_id bigint NOT NULL,
    simsession_number integer NOT NULL,
    cust_id bigint NOT NULL REFERENCES ir_drivers,
    lap_number integer NOT NULL,
    -- The team's id (or the driver's cust_id in a solo event), as the API writes it.
    group_id bigint,
    -- NULL when the API has no time for the lap (-1).
    lap_time_s double precision,
    -- Time since the simsession started when the lap ended.
    session_time_s double precision,
    -- False when the lap has no time or the API flags it "invalid".
    valid boolean NOT NULL,
    incident boolean,
    flags integer,
    lap_events text[] NOT NULL DEFAULT '{}',
    personal_best_lap boolean,
    team_fastest_lap boolean,
    car_number text,
    license_level integer,
    source_name text NOT NULL,
    PRIMARY KEY (subsession_id, simsession_number, cust_id, lap_number)
);

-- Races whose data changed since the last feature build, as (race, driver) pairs; both the
-- values before and after a change are queued, so that an incremental rebuild also reaches
-- the races that come after a race's old start time, old track or removed drivers.
-- cust_id is NULL for a change that concerns the race as a whole.
CREATE TABLE ml_pending_changes (
    change_id bigserial PRIMARY KEY,
    subsession_id bigint NOT NULL,
    cust_id bigint,
    track_id integer,
    start_time timestamptz,
    queued_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ml_feature_builds (
    build_id bigserial PRIMARY KEY,
    mode text NOT NULL CHECK (mode IN ('full', 'incremental')),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    counts jsonb NOT NULL
);

-- Training rows: one per driver per race, features from data known before the race started,
-- targets from its result. Positions here are 1-based (the winner is 1). A race is the main
-- race simsession of a subsession (the race simsession with the highest number); "before"
-- orders races by (start_time, subsession_id).
CREATE TABLE ml_training_data (
    subsession_id bigint NOT NULL REFERENCES ir_subsessions ON DELETE CASCADE,
    cust_id bigint NOT NULL REFERENCES ir_drivers,
    simsession_number integer NOT NULL,
    start_time timestamptz NOT NULL,
    series_id integer,
    season_id integer,
    track_id integer,
    car_id integer,
    car_class_id integer,
    license_category_id integer,
    team_event boolean NOT NULL,
    -- Grid and field.
    starting_position_1 integer,
    starting_position_in_class_1 integer,
    field_size integer NOT NULL,
    class_field_size integer,
    -- The driver's ratings before this race.
    oldi_rating integer,
    old_safety_rating numeric(5, 2),
    old_license_level integer,
    -- Opponents in this race, from their iRating before the race (oldi_rating).
    opp_irating_mean double precision,
    opp_irating_min integer,
    opp_irating_max integer,
    field_irating_sof double precision,
    irating_minus_opp_mean double precision,
    -- Form over the driver's previous races (form_*: at most the 5 latest).
    prior_races integer NOT NULL,
    form_races integer NOT NULL,
    form_finish_position_mean double precision,
    form_incidents_mean double precision,
    form_dnf_rate double precision,
    form_win_rate double precision,
    form_top5_rate double precision,
    form_top10_rate double precision,
    form_irating_delta_mean double precision,
    form_irating_slope_per_race double precision,
    form_safety_rating_delta_mean double precision,
    days_since_last_race double precision,
    driver_track_prior_races integer NOT NULL,
    driver_track_finish_position_mean double precision,
    -- The track's difficulty from earlier races at the same track configuration.
    track_prior_races integer NOT NULL,
    track_incidents_per_driver double precision,
    track_incidents_per_100_laps double precision,
    track_dnf_rate double precision,
    -- Weather set for the race.
    air_temp_c double precision,
    rel_humidity_pct double precision,
    skies integer,
    wind_speed_kmh double precision,
    precip_time_pct double precision,
    -- Telemetry of the driver's earlier races (sessions linked to a race strictly before).
    tel_prior_sessions integer NOT NULL,
    tel_track_best_lap_s double precision,
    tel_track_lap_std_s double precision,
    tel_lap_cv_mean double precision,
    -- Targets.
    target_finish_position_1 integer,
    target_finish_position_in_class_1 integer,
    target_incidents integer,
    target_dnf boolean,
    target_irating_delta integer,
    PRIMARY KEY (subsession_id, cust_id)
);
CREATE INDEX ml_training_data_cust_idx ON ml_training_data (cust_id, start_time, subsession_id);
CREATE INDEX ml_training_data_track_idx
    ON ml_training_data (track_id, start_time, subsession_id);
CREATE INDEX ml_training_data_start_idx ON ml_training_data (start_time, subsession_id);

-- Lap statistics of the telemetry sessions linked to a race and a driver, as of the last
-- feature build. Each build compares them with the current sessions and laps, so that an
-- incremental build also reaches the races after a session that was added, changed or
-- deleted. Sums are numeric so that they do not depend on the order of summation.
CREATE TABLE ml_telemetry_sessions (
    session_key bigint PRIMARY KEY,
    subsession_id bigint NOT NULL,
    cust_id bigint NOT NULL,
    valid_laps integer NOT NULL,
    lap_time_sum_s numeric NOT NULL,
    lap_time_sq_sum_s2 numeric NOT NULL,
    best_lap_s double precision NOT NULL
);

COMMENT ON TABLE ml_training_data IS
    'One row per driver per race. Features use only facts fixed before the start of the race '
    'and races strictly before it in (start_time, subsession_id) order; target_* columns are '
    'the race''s outcome. Positions are 1-based. Rebuilt by common.features.rebuild_features.';
COMMENT ON COLUMN ml_training_data.field_size IS
    'Entries (cars) in the race: teams in a team event, drivers otherwise.';
COMMENT ON COLUMN ml_training_data.opp_irating_mean IS
    'Mean oldi_rating of the other entries'' drivers (teammates excluded).';
COMMENT ON COLUMN ml_training_data.field_irating_sof IS
    'Strength of field, 1600 / ln 2 * ln(n / sum(exp(-oldi_rating * ln 2 / 1600))), over '
    'every driver of the race.';
COMMENT ON COLUMN ml_training_data.prior_races IS 'The driver''s races before this one.';
COMMENT ON COLUMN ml_training_data.form_races IS
    'Races in the form window: the driver''s latest earlier races, at most 5.';
COMMENT ON COLUMN ml_training_data.form_dnf_rate IS
    'Share of the form races not finished (reason_out_id other than 0).';
COMMENT ON COLUMN ml_training_data.form_irating_delta_mean IS
    'Mean newi_rating - oldi_rating over the latest 5 earlier races of the same license '
    'category.';
COMMENT ON COLUMN ml_training_data.form_irating_slope_per_race IS
    'Least-squares slope of newi_rating against race number over the latest 5 earlier races '
    'of the same license category; NULL with fewer than 2.';
COMMENT ON COLUMN ml_training_data.form_safety_rating_delta_mean IS
    'Mean safety rating change over the latest 5 earlier races of the same license category; '
    'a change of license class is not accounted for.';
COMMENT ON COLUMN ml_training_data.days_since_last_race IS
    'Days between the driver''s previous race start and this race start.';
COMMENT ON COLUMN ml_training_data.track_incidents_per_driver IS
    'Incidents per driver over every earlier race at this track_id.';
COMMENT ON COLUMN ml_training_data.track_incidents_per_100_laps IS
    'Incidents per 100 completed laps over every earlier race at this track_id.';
COMMENT ON COLUMN ml_training_data.tel_prior_sessions IS
    'Telemetry sessions with a valid lap, linked to this driver and an earlier race.';
COMMENT ON COLUMN ml_training_data.tel_track_best_lap_s IS
    'Best valid lap of those sessions whose race was at this track_id.';
COMMENT ON COLUMN ml_training_data.tel_track_lap_std_s IS
    'Sample standard deviation of the valid laps of those sessions at this track_id.';
COMMENT ON COLUMN ml_training_data.tel_lap_cv_mean IS
    'Mean over the earlier linked sessions (any track) of stddev / mean of their valid laps.';
COMMENT ON COLUMN ml_training_data.target_dnf IS 'True when reason_out_id is not 0 (Running).';
