"""Backlog ingest speed: ``simtel ingest`` on generated MoTeC CSV sessions.

Generates SESSIONS MoTeC i2 CSV exports of 10 minutes at 60 Hz with 40 channels (36,000 rows each),
then runs ``simtel ingest`` on the folder against a throwaway PostgreSQL 15 server and reports
sessions per minute and samples per second, measured around the whole command (process start,
parsing on every core, loading, summary). Ten distinct data blocks are generated and reused with a
different header per session, so every file has its own bytes and is its own session.

The last line is ``sessions_per_min: N``.

Run: ``.venv/bin/python benchmarks/ingest.py [SESSIONS]``
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import database, report

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

SESSIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
RATE_HZ = 60
ROWS = 10 * 60 * RATE_HZ
CHANNELS = 40
NAMES = ["Ground Speed", "Throttle Pos", "Brake Pos", "Gear", "Engine RPM", "Steering Angle",
         "G Force Lat", "G Force Long", "Distance", "Water Temp"]
UNITS = ["km/h", "%", "%", "", "rpm", "deg", "G", "G", "m", "C"]


def data_block(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    t = np.round(np.arange(ROWS) / RATE_HZ, 3)
    columns = {"Time": t}
    for i in range(CHANNELS):
        if i < len(NAMES):
            name = NAMES[i]
        else:
            name = f"Sensor {i:02d}"
        phase = rng.uniform(0, 6.28)
        values = 50 + 40 * np.sin(t / (5 + i) + phase) + rng.normal(0, 0.5, ROWS)
        if name == "Gear":
            values = np.clip(np.round(values / 20), 1, 6)
        columns[name] = np.round(values, 3)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.table(columns), sink,
                    pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue().to_pybytes()


def header(n: int) -> bytes:
    names = ["Time"] + [NAMES[i] if i < len(NAMES) else f"Sensor {i:02d}" for i in range(CHANNELS)]
    units = ["s"] + [UNITS[i] if i < len(UNITS) else "V" for i in range(CHANNELS)]
    lines = [
        '"Format","MoTeC CSV File",,,"Workbook","Benchmark"',
        '"Venue","Benchmark Ring",,,"Worksheet","Laps"',
        f'"Vehicle","Car {n % 12}",,,"Vehicle Desc",""',
        f'"Driver","Driver {n % 30}",,,"Engine ID",""',
        '"Device","ADL"',
        f'"Comment","generated session {n}",,,"Session","Race"',
        '"Log Date","2026-06-13",,,"Origin Time","0.000","s"',
        '"Log Time","10:30:00",,,"Start Time","0.000","s"',
        f'"Sample Rate","{RATE_HZ}.000","Hz",,"End Time","{(ROWS - 1) / RATE_HZ:.3f}","s"',
        "",
        ",".join(f'"{x}"' for x in names),
        ",".join(f'"{x}"' for x in units),
        "",
    ]
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="simtel-ingest-bench-") as tmp, database() as (url, _):
        folder = Path(tmp)
        started = time.perf_counter()
        blocks = [data_block(seed) for seed in range(10)]
        for n in range(SESSIONS):
            (folder / f"session_{n:04d}.csv").write_bytes(header(n) + blocks[n % 10])
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"generated {SESSIONS} files, {size / 1e9:.2f} GB, in {time.perf_counter() - started:.0f} s")

        command = [str(Path(sys.executable).with_name("simtel")), "ingest", str(folder), "--quiet",
                   "--database-url", url]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True,
                                env={**os.environ, "PYTHONWARNINGS": "ignore"})
        elapsed = time.perf_counter() - started
        print(result.stdout.strip())
        if result.returncode != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"simtel ingest exited with {result.returncode}")
        ready = int(re.search(r"sessions ready: (\d+)", result.stdout).group(1))
        assert ready == SESSIONS, f"{ready} of {SESSIONS} sessions ready"

    samples = SESSIONS * ROWS
    report("wall time", elapsed, "s")
    report("samples per second", samples / elapsed, "samples/s")
    report("values per second", samples * CHANNELS / elapsed, "values/s")
    print(f"cores: {os.cpu_count()}")
    print(f"sessions_per_min: {SESSIONS / (elapsed / 60):.1f}")


if __name__ == "__main__":
    main()
