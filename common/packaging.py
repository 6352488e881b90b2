"""Deployable zips of the three Cloud Functions, and the ``simtel package`` command.

Each zip contains what the Python 3.11 runtime needs at its root: the function's ``main.py``, the
shared ``common/`` package and the project's ``requirements.txt``. The build is deterministic:
entries are sorted, every entry has the same timestamp and permissions, and caches are left out,
so the same source files give the same bytes (with the same zlib version) and the same
``<name>-<sha256 prefix>.zip``.
Terraform reads ``manifest.json`` beside the zips to find them (terraform/README.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import zipfile
from pathlib import Path

from .errors import SimtelError

logger = logging.getLogger(__name__)

# Function name -> entry point, as Terraform deploys them.
FUNCTIONS = {
    "parse": "parse_event",
    "load": "load_chunk",
    "api": "api",
}
MANIFEST = "manifest.json"
DEFAULT_OUT_DIR = Path("dist") / "functions"
# Hex digits of the SHA-256 kept in the file name: 48 bits, enough to tell builds apart.
HASH_PREFIX_CHARS = 12
# The earliest date a zip entry can carry. Zip timestamps have no time zone.
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# rw-r--r-- regular file, in the high 16 bits of external_attr as zip tools on Unix expect.
FILE_MODE = 0o100644 << 16
COMPRESS_LEVEL = 9

_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
_ZIP_NAME = re.compile(rf"^(?P<name>[a-z]+)-[0-9a-f]{{{HASH_PREFIX_CHARS}}}\.zip$")


def source_root() -> Path:
    """Return the source checkout that contains ``functions/``, ``common/`` and ``requirements.txt``."""
    return Path(__file__).resolve().parent.parent


def package_files(name: str, root: Path | None = None) -> list[tuple[str, Path]]:
    """List ``(path in zip, file on disk)`` for one function, sorted by path in zip."""
    root = root or source_root()
    main = root / "functions" / name / "main.py"
    requirements = root / "requirements.txt"
    common = root / "common"
    for required in (main, requirements, common / "__init__.py"):
        if not required.is_file():
            raise SimtelError(
                f"cannot package function {name!r}: {required} not found; "
                "run 'simtel package' from a source checkout of the project"
            )
    entries = [("main.py", main), ("requirements.txt", requirements)]
    for path in common.rglob("*"):
        relative = path.relative_to(root)
        if not path.is_file() or _excluded(relative):
            continue
        entries.append((relative.as_posix(), path))
    entries.sort(key=lambda entry: entry[0])
    return entries


def _excluded(relative: Path) -> bool:
    if any(part in _EXCLUDED_DIRS or part.endswith(".egg-info") for part in relative.parts):
        return True
    return relative.suffix in _EXCLUDED_SUFFIXES or relative.name.startswith(".")


def write_zip(entries: list[tuple[str, Path]], target: Path) -> None:
    """Write ``entries`` to ``target`` with fixed timestamps and permissions, in the given order."""
    with zipfile.ZipFile(target, "w") as archive:
        for arcname, path in entries:
            info = zipfile.ZipInfo(arcname, date_time=FIXED_TIMESTAMP)
            info.external_attr = FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that the mode above is read as Unix permissions
            archive.writestr(info, path.read_bytes(), compresslevel=COMPRESS_LEVEL)


def build_packages(out_dir: Path | str, root: Path | None = None) -> dict[str, Path]:
    """Build ``<name>-<sha256 prefix>.zip`` for parse, load and api in ``out_dir``.

    Writes ``manifest.json`` (file, full SHA-256 and entry point per function) and removes zips of
    earlier builds from ``out_dir``. Returns the zip path of each function.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[str, Path] = {}
    manifest: dict[str, dict[str, str]] = {}
    for name, entry_point in FUNCTIONS.items():
        partial = out_dir / f".{name}.zip.partial"
        write_zip(package_files(name, root), partial)
        digest = hashlib.sha256(partial.read_bytes()).hexdigest()
        target = out_dir / f"{name}-{digest[:HASH_PREFIX_CHARS]}.zip"
        partial.replace(target)
        built[name] = target
        manifest[name] = {"file": target.name, "sha256": digest, "entry_point": entry_point}
        logger.debug("packaged %s as %s", name, target)

    current = {path.name for path in built.values()}
    for stale in out_dir.glob("*.zip"):
        match = _ZIP_NAME.match(stale.name)
        if match and match.group("name") in FUNCTIONS and stale.name not in current:
            stale.unlink()
            logger.debug("removed the zip of an earlier build: %s", stale)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return built


def _run_package(args: argparse.Namespace) -> int:
    built = build_packages(args.out)
    manifest = json.loads((Path(args.out) / MANIFEST).read_text())
    for name, path in built.items():
        print(f"{name}\t{path}\tsha256={manifest[name]['sha256']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``simtel package``."""
    parser = subparsers.add_parser(
        "package",
        help="build the deployable zip of each Cloud Function",
        description="Build parse, load and api zips named <name>-<sha256 prefix>.zip, each containing "
        "main.py, common/ and requirements.txt, plus manifest.json for Terraform.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT_DIR,
        metavar="DIR",
        help=f"folder for the zips and manifest.json (default: {DEFAULT_OUT_DIR})",
    )
    parser.set_defaults(func=_run_package)
