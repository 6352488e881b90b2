"""Parse speed and peak memory of a one-hour MoTeC CSV export, against pandas' C parser.

Generates, in a temporary folder, a MoTeC i2 CSV export of one hour at 60 Hz with 100 channels:
216,000 rows, every field quoted as MoTeC writes it, values rounded to 1 to 3 decimals and
written in their shortest form by pyarrow's CSV writer. A second file contains only its numeric
rows, byte for byte. Then it measures:

- ours: ``common.formats.parse_path`` on the export (read the file, detect, read, normalize);
- pandas: ``pandas.read_csv(engine="c", header=None)`` on the numeric rows alone.

Throughput is file bytes per second (MB = 10^6 bytes) and rows per second. The last line is
``parse_vs_pandas_c: RATIO``, our MB/s divided by pandas' MB/s in the same run; the goal is at
least 0.5.

Peak memory: each measurement runs in a fresh Python subprocess. The child imports everything
first (numpy, pandas, pyarrow, common.formats), then reads its peak resident set size so far as
the baseline, runs the measurement once, and reads the peak again. Peak memory of the measurement
is the difference, so it counts the file's bytes, the parser's buffers and the result, but not
the interpreter and its libraries. The peak is ``VmHWM`` from ``/proc/self/status``, not
``ru_maxrss``: on Linux ``ru_maxrss`` survives ``exec``, so a child would start with the
generating parent's peak and hide its own up to that level (``ru_maxrss`` is the fallback where
``/proc`` is missing). The goal for ours is at most 3 times the file size. Each measurement runs
``REPEATS`` times in fresh subprocesses; the report gives the fastest time and the largest peak.

Run: ``.venv/bin/python benchmarks/parse.py [HOURS]`` (default 1.0).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE_HZ = 60
CHANNELS = 100
REPEATS = 3

# (name, unit, decimals, low, high) of the first channels; the rest are "Sensor N" in mm.
NAMED = [
    ("Ground Speed", "km/h", 1, 0, 300), ("Throttle Pos", "%", 1, 0, 100),
    ("Brake Pos", "%", 1, 0, 100), ("Clutch Pos", "%", 1, 0, 100),
    ("Steered Angle", "deg", 1, -360, 360), ("Gear", "", 0, 1, 6), ("Engine RPM", "rpm", 0, 900, 9000),
    ("Lap Distance", "m", 1, 0, 5000), ("Distance", "m", 1, 0, 200000),
    ("G Force Lat", "G", 3, -3, 3), ("G Force Long", "G", 3, -3, 3), ("G Force Vert", "G", 3, -3, 3),
    ("Water Temp", "C", 1, 60, 110), ("Oil Temp", "C", 1, 60, 130), ("Oil Pres", "bar", 2, 0, 8),
    ("Fuel Level", "l", 2, 0, 100),
    ("Wheel Speed FL", "km/h", 1, 0, 300), ("Wheel Speed FR", "km/h", 1, 0, 300),
    ("Wheel Speed RL", "km/h", 1, 0, 300), ("Wheel Speed RR", "km/h", 1, 0, 300),
]


def channel_specs() -> list[tuple[str, str, int, float, float]]:
    specs = list(NAMED)
    for i in range(CHANNELS - len(NAMED)):
        specs.append((f"Sensor {i + 1}", "mm", 2, -100, 100))
    return specs


def generate(folder: Path, hours: float) -> tuple[Path, Path, int]:
    """Write the export and its numeric rows; return both paths and the row count."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rows = round(hours * 3600 * RATE_HZ)
    rng = np.random.default_rng(20240309)
    specs = channel_specs()
    arrays = [pa.array(np.round(np.arange(rows) / RATE_HZ, 3))]
    for _name, _unit, decimals, low, high in specs:
        values = np.round(rng.uniform(low, high, rows), decimals)
        arrays.append(pa.array(values))
    names = ["Time"] + [s[0] for s in specs]
    table = pa.Table.from_arrays(arrays, names=names)
    del arrays

    block = folder / "numeric_rows.csv"
    pacsv.write_csv(table, block, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    del table

    duration = (rows - 1) / RATE_HZ
    header = [
        '"Format","MoTeC CSV File",,,"Workbook",""',
        '"Venue","Benchmark Ring",,,"Worksheet",""',
        '"Vehicle","Test Car",,,"Vehicle Desc",""',
        '"Driver","Driver A",,,"Engine ID",""',
        '"Device","ADL"',
        '"Comment","",,,"Session","Race"',
        '"Log Date","2024-03-09",,,"Origin Time","0.000","s"',
        '"Log Time","2:05:10 PM",,,"Start Time","0.000","s"',
        f'"Sample Rate","{RATE_HZ:.3f}","Hz",,"End Time","{duration:.3f}","s"',
        f'"Duration","{duration:.3f}","s",,"Start Distance","0","m"',
        '"Range","entire outing",,,"End Distance","0","m"',
        '"Beacon Markers",""',
        "",
        "",
        ",".join(f'"{n}"' for n in names),
        ",".join(f'"{u}"' for u in ["s"] + [s[1] for s in specs]),
        "",
        "",
    ]
    export = folder / "one_hour_60hz.csv"
    with export.open("wb") as out, block.open("rb") as numeric:
        out.write(("\n".join(header) + "\n").encode())
        while chunk := numeric.read(16 << 20):
            out.write(chunk)
    return export, block, rows


def measure_child(kind: str, path: str) -> None:
    """Run one measurement in this (fresh) process and print it as JSON."""
    import numpy  # noqa: F401 - imported before the baseline on purpose
    import pandas
    import pyarrow  # noqa: F401

    from common.formats import parse_path

    baseline = peak_rss_bytes()
    started = time.perf_counter()
    if kind == "ours":
        session = parse_path(path)
        rows = session.sample_count
    else:
        frame = pandas.read_csv(path, engine="c", header=None)
        rows = len(frame)
    seconds = time.perf_counter() - started
    peak = peak_rss_bytes()
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_bytes": peak - baseline,
                      "baseline_bytes": baseline}))


def peak_rss_bytes() -> int:
    """Return this process's peak resident set size in bytes since its last ``exec``."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(kind: str, path: Path) -> dict:
    """Measure ``kind`` on ``path`` REPEATS times, each in a fresh subprocess."""
    results = []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)],
                             check=True, capture_output=True, text=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "seconds": min(r["seconds"] for r in results),
        "rows": results[0]["rows"],
        "peak_bytes": max(r["peak_bytes"] for r in results),
        "baseline_bytes": results[0]["baseline_bytes"],
    }


def main() -> None:
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    with tempfile.TemporaryDirectory(prefix="simtel-parse-bench-") as tmp:
        started = time.perf_counter()
        export, block, rows = generate(Path(tmp), hours)
        export_mb = export.stat().st_size / 1e6
        block_mb = block.stat().st_size / 1e6
        print(f"generated {rows:,} rows x {CHANNELS + 1} columns in {time.perf_counter() - started:.1f} s: "
              f"export {export_mb:,.1f} MB, numeric rows {block_mb:,.1f} MB")

        ours = run("ours", export)
        pandas_c = run("pandas", block)

    for label, result, size_mb in (("ours (parse_path)", ours, export_mb),
                                   ("pandas.read_csv(engine='c')", pandas_c, block_mb)):
        print(f"{label:30} {result['seconds']:7.2f} s  {size_mb / result['seconds']:7.1f} MB/s  "
              f"{result['rows'] / result['seconds']:11,.0f} rows/s  "
              f"peak {result['peak_bytes'] / 1e6:7.1f} MB ({result['peak_bytes'] / 1e6 / size_mb:.2f}x file)")
    assert ours["rows"] == rows, f"parse_path returned {ours['rows']} rows, expected {rows}"
    print(f"baseline after imports: {ours['baseline_bytes'] / 1e6:.1f} MB (not counted)")
    print(f"memory_vs_file: {ours['peak_bytes'] / 1e6 / export_mb:.2f}")
    ratio = (export_mb / ours["seconds"]) / (block_mb / pandas_c["seconds"])
    print(f"parse_vs_pandas_c: {ratio:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        measure_child(sys.argv[2], sys.argv[3])
    else:
        main()
