"""Griffe extension for the docs build: Sphinx markup in docstrings -> Markdown.

The docstrings are numpydoc with Sphinx roles (``:func:`x```), ``.. math::``
blocks and ``.. [1]`` citations, which mkdocstrings would print as they are.
This rewrites them before the docstrings are parsed: roles become code spans
(the last dotted component when written ``~a.b``), math blocks become text
blocks, citations plain ``[1]`` labels.  The docstrings themselves stay
Sphinx-friendly; only the rendered site changes.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|data|mod|attr|exc|obj|const|math):`(~?)([^`]+)`")
_MATH = re.compile(r"^([ \t]*)\.\. math::[ \t]*\n((?:[ \t]*\n)*)((?:\1[ \t]+\S.*\n?|[ \t]*\n)+)",
                   re.MULTILINE)
_CITE = re.compile(r"^([ \t]*)\.\. \[(\w+)\]", re.MULTILINE)


def _role(m: re.Match[str]) -> str:
    text = m.group(2)
    if m.group(1):  # ~a.b.c -> c
        text = text.rsplit(".", 1)[-1]
    return f"`{text}`"


def _math(m: re.Match[str]) -> str:
    indent = m.group(1)
    lines = [ln.strip() for ln in m.group(3).splitlines() if ln.strip()]
    body = "\n".join(f"{indent}{ln}" for ln in lines)
    return f"{indent}```text\n{body}\n{indent}```\n\n"


def convert(text: str) -> str:
    """Sphinx roles, math blocks and citation labels of ``text`` as Markdown."""
    text = _MATH.sub(_math, text)
    text = _ROLE.sub(_role, text)
    return _CITE.sub(r"\1[\2]", text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring before mkdocstrings parses it."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
