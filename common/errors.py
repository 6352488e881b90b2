"""Exception hierarchy of the pipeline.

Errors are split into two kinds, because the functions treat them differently:

- ``TerminalError``: the input itself is wrong. Retrying cannot help, so the session is marked
  failed with the message and the event is acknowledged.
- ``TransientError``: an infrastructure fault (database unavailable, timeout). The function raises
  so that the platform redelivers the event.
"""

from __future__ import annotations


class SimtelError(Exception):
    """Base class of every error raised on purpose by this project."""


class TerminalError(SimtelError):
    """Bad input: mark the session failed and do not retry."""


class TransientError(SimtelError):
    """Infrastructure fault: raise so that the platform retries the event."""


class ParseError(TerminalError):
    """A file that cannot be read as telemetry.

    The message names the file, the place (line, column, field or byte offset), what was expected
    and what was found, so that a user can fix the file or report it.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
        offset: int | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.file = file
        self.problem = problem
        self.line = line
        self.field = field
        self.offset = offset
        self.expected = expected
        self.found = found
        super().__init__(self._compose())

    def _compose(self) -> str:
        place = []
        if self.line is not None:
            place.append(f"line {self.line}")
        if self.field is not None:
            place.append(f"field {self.field!r}")
        if self.offset is not None:
            place.append(f"byte offset {self.offset}")
        where = f"{self.file}" + (f", {', '.join(place)}" if place else "")
        text = f"{where}: {self.problem}"
        if self.expected is not None:
            text += f"; expected {self.expected}"
        if self.found is not None:
            text += f", found {self.found}"
        return text


class ChunkError(TerminalError):
    """A chunk message whose content cannot be decoded or stored."""

    def __init__(self, session_id: str, seq: int | None, problem: str) -> None:
        self.session_id = session_id
        self.seq = seq
        where = f"session {session_id}" + (f" chunk {seq}" if seq is not None else "")
        super().__init__(f"{where}: {problem}")


class EventError(TerminalError):
    """An event whose shape is not one of the accepted Cloud Storage event shapes."""


class UploadTooLarge(TerminalError):
    """An object over the configured maximum upload size."""
