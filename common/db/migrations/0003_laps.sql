-- Laps: keep the lap time that the producing tool wrote, next to the detected one.

ALTER TABLE laps ADD COLUMN producer_lap_time_s double precision;
