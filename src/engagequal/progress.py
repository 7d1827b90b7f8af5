"""Progress bars on long stages: ``tqdm.auto``, imported only when shown.

One rule for every long call that takes ``progress: bool | None``:

* ``progress=True`` always shows a bar (and overrides ``TQDM_DISABLE``); it
  needs the ``progress`` extra (tqdm).
* ``progress=False`` never shows one.
* ``progress=None`` (the default) defers to the global switch
  :func:`set_progress`; when that is unset too, a bar is shown for long jobs
  (``auto`` decides, e.g. a million events or more) when tqdm is installed,
  and ``TQDM_DISABLE=1`` silences it.

>>> from engagequal.progress import set_progress, resolve
>>> set_progress(False); resolve(None, auto=True)
False
>>> set_progress(None); resolve(True, auto=False)
True
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from engagequal.errors import MissingExtraError

__all__ = ["Stages", "get_progress", "resolve", "set_progress"]

_GLOBAL: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Switch progress bars on (True) or off (False) for every call that does
    not say otherwise; ``None`` restores the default (automatic)."""
    global _GLOBAL
    if enabled is not None and not isinstance(enabled, bool):
        from engagequal.errors import OptionError

        raise OptionError(f"progress must be True, False or None, got {enabled!r}")
    _GLOBAL = enabled


def get_progress() -> bool | None:
    """The global switch set by :func:`set_progress`."""
    return _GLOBAL


def resolve(progress: bool | None, *, auto: bool) -> bool | None:
    """``True`` (show, forced), ``False`` (hide) or ``None`` (show unless
    ``TQDM_DISABLE`` says otherwise), from the call's ``progress``, the global
    switch and ``auto`` (whether the job is long enough to deserve a bar)."""
    if progress is not None:
        return bool(progress)
    if _GLOBAL is not None:
        return _GLOBAL
    return None if auto else False


class Stages:
    """A bar over the named stages of one job (a no-op when hidden).

    >>> with Stages(["read", "count"], progress=False) as bar:
    ...     bar.step("read"); bar.step("count")
    """

    def __init__(self, names: list[str], *, progress: bool | None, desc: str = "engagequal"
                 ) -> None:
        self._bar: Any = None
        self._started = False
        if progress is False:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:
            if progress:
                raise MissingExtraError(
                    "progress bars need tqdm: pip install 'engagequal[progress]'") from exc
            return
        kw: dict[str, Any] = {"total": len(names), "desc": desc, "unit": "stage",
                              "leave": False}
        if progress:
            kw["disable"] = False  # explicit request overrides TQDM_DISABLE
        self._bar = tqdm(**kw)

    def step(self, name: str) -> None:
        """Mark the start of stage ``name`` (the previous one is done)."""
        if self._bar is not None:
            if self._started:
                self._bar.update(1)
            self._started = True
            self._bar.set_postfix_str(name, refresh=True)

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            if exc_type is None:
                self._bar.update(self._bar.total - self._bar.n)
            self._bar.close()
