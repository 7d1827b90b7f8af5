"""The exception and warning hierarchy of engagequal.

Every error the library raises on purpose derives from :class:`EngagequalError`
and from the builtin exception a caller would naturally catch (``ValueError``,
``TypeError``, ``KeyError``), so ``except ValueError`` keeps working.  Messages
name the column, the count of offending rows and up to three examples.

>>> import engagequal as eq
>>> try:
...     eq.read_events({"actor": [1], "target": [2]})
... except eq.errors.InputError as exc:
...     print(type(exc).__name__, exc.column, isinstance(exc, ValueError))
MissingColumnError ts True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "DataQualityWarning",
    "DuplicateEventError",
    "EngagequalError",
    "EngagequalWarning",
    "FormatError",
    "InputError",
    "InvalidTimeError",
    "InvalidWeightError",
    "MissingColumnError",
    "MissingExtraError",
    "NullValueError",
    "OptionError",
    "ParentCycleError",
    "SourceError",
    "UnknownKindError",
]


class EngagequalError(Exception):
    """Base class of every error raised on purpose by engagequal."""


class InputError(EngagequalError, ValueError):
    """The events do not satisfy the event model.

    Attributes
    ----------
    column : str or None
        The (user-facing) column at fault.
    reason : str
        A short machine-readable reason, the same key lenient mode counts under.
    count : int
        How many rows are affected.
    examples : list
        Up to three example rows (as dicts) or values.
    """

    reason = "invalid"

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        count: int = 0,
        examples: Sequence[Any] = (),
    ) -> None:
        super().__init__(message)
        self.column = column
        self.count = count
        self.examples = list(examples)


class MissingColumnError(InputError, KeyError):
    """A required column is absent from the source."""

    reason = "missing_column"

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class NullValueError(InputError):
    """A required field is null."""

    reason = "null"


class InvalidTimeError(InputError):
    """A timestamp is null, not finite, or cannot be parsed."""

    reason = "bad_ts"


class InvalidWeightError(InputError):
    """A weight is negative or not finite."""

    reason = "bad_weight"


class UnknownKindError(InputError):
    """An event kind has no weight (map it with ``kind_weights=``)."""

    reason = "unknown_kind"


class DuplicateEventError(InputError):
    """Two rows share one ``event_id``."""

    reason = "duplicate_event_id"


class ParentCycleError(InputError):
    """Parent pointers form a cycle."""

    reason = "parent_cycle"


class SourceError(EngagequalError, TypeError):
    """The source cannot be read as a table of events."""


class FormatError(EngagequalError, ValueError):
    """A file in a platform export or archive is malformed (engagequal.io).

    The message names the file and the line or record; ``path``, ``location``
    and ``reason`` (the key lenient mode counts under) carry them as fields.
    """

    def __init__(self, message: str, *, path: str = "", location: str = "",
                 reason: str = "malformed") -> None:
        super().__init__(message)
        self.path = path
        self.location = location
        self.reason = reason


class OptionError(EngagequalError, ValueError):
    """A keyword option has an invalid value."""


class MissingExtraError(EngagequalError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class EngagequalWarning(UserWarning):
    """Base class of engagequal's warnings."""


class DataQualityWarning(EngagequalWarning):
    """The data are usable but something in them deserves a look."""
