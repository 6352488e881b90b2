-- Core schema: sources, sessions, dimensions, channels, laps, the chunk ledger and samples.

CREATE TABLE tracks (
    track_id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    length_m real
);

CREATE TABLE cars (
    car_id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE drivers (
    driver_id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE sessions (
    session_key bigserial PRIMARY KEY,
    -- SHA-256 of the file's bytes, lower-case hex: the public session id.
    session_id char(64) NOT NULL UNIQUE CHECK (session_id ~ '^[0-9a-f]{64}$'),
    status text NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'parsing', 'loading', 'ready', 'failed')),
    reason text,
    format text,
    track_id bigint REFERENCES tracks,
    car_id bigint REFERENCES cars,
    driver_id bigint REFERENCES drivers,
    session_type text,
    -- Start time when the file states a time zone; otherwise start_local holds the logger's
    -- local wall-clock time.
    start_time timestamptz,
    start_local timestamp,
    start_time_ambiguous boolean NOT NULL DEFAULT false,
    device text,
    producer text,
    sample_rate_hz real,
    duration_s double precision,
    time_offset_s double precision,
    sample_count integer,
    chunk_count integer,
    chunks_loaded integer NOT NULL DEFAULT 0,
    samples_loaded bigint NOT NULL DEFAULT 0,
    quality jsonb,
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    ready_at timestamptz
);
CREATE INDEX sessions_status_idx ON sessions (status);
CREATE INDEX sessions_created_idx ON sessions (created_at, session_key);

CREATE TABLE sources (
    source_key bigserial PRIMARY KEY,
    session_key bigint NOT NULL REFERENCES sessions ON DELETE CASCADE,
    bucket text NOT NULL,
    object_name text NOT NULL,
    generation bigint NOT NULL DEFAULT 0,
    size_bytes bigint NOT NULL,
    sha256 char(64) NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bucket, object_name, generation)
);
CREATE INDEX sources_session_idx ON sources (session_key);

CREATE TABLE channels (
    session_key bigint NOT NULL REFERENCES sessions ON DELETE CASCADE,
    position integer NOT NULL,
    source_name text NOT NULL,
    source_unit text NOT NULL,
    canonical_name text,
    unit text NOT NULL,
    rate_hz real,
    kind text NOT NULL CHECK (kind IN ('continuous', 'discrete')),
    provenance text NOT NULL,
    source_group text,
    -- The samples column holding this channel, or NULL when it lives in samples.extra.
    storage_column text,
    extra_index integer,
    PRIMARY KEY (session_key, position),
    CHECK ((storage_column IS NULL) <> (extra_index IS NULL))
);

CREATE TABLE laps (
    session_key bigint NOT NULL REFERENCES sessions ON DELETE CASCADE,
    lap_number integer NOT NULL,
    start_s double precision NOT NULL,
    end_s double precision NOT NULL,
    lap_time_s double precision,
    distance_m real,
    kind text NOT NULL CHECK (kind IN ('out', 'flying', 'in', 'partial')),
    valid boolean NOT NULL,
    reason text,
    max_speed_kmh real,
    mean_speed_kmh real,
    sector_times_s double precision[],
    source text NOT NULL,
    PRIMARY KEY (session_key, lap_number)
);

-- One row per loaded chunk; committed with the chunk's samples in one transaction.
CREATE TABLE chunk_ledger (
    session_key bigint NOT NULL REFERENCES sessions ON DELETE CASCADE,
    seq integer NOT NULL,
    row_count integer NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_key, seq)
);

-- Failed delivery attempts of a chunk, kept so that a dead-lettered chunk's reason is known.
CREATE TABLE chunk_failures (
    session_key bigint NOT NULL REFERENCES sessions ON DELETE CASCADE,
    seq integer NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    last_error text NOT NULL,
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_key, seq)
);

-- One row per sample: canonical channels as typed columns, every other channel in extra,
-- indexed by channels.extra_index (0-based here, so extra[extra_index + 1] in SQL).
-- No foreign key: a per-row check would slow COPY; deleting a session deletes its samples
-- explicitly (common.db.sessions.delete_session).
CREATE TABLE samples (
    session_key bigint NOT NULL,
    elapsed_s double precision NOT NULL,
    speed real,
    throttle real,
    brake real,
    clutch real,
    steering_angle real,
    gear smallint,
    engine_rpm real,
    lap_number integer,
    lap_distance real,
    lap_distance_pct real,
    distance real,
    latitude double precision,
    longitude double precision,
    altitude real,
    heading real,
    lateral_accel real,
    longitudinal_accel real,
    vertical_accel real,
    yaw_rate real,
    water_temp real,
    oil_temp real,
    oil_pressure real,
    fuel_level real,
    wheel_speed_fl real,
    wheel_speed_fr real,
    wheel_speed_rl real,
    wheel_speed_rr real,
    heart_rate real,
    extra real[],
    PRIMARY KEY (session_key, elapsed_s)
);
