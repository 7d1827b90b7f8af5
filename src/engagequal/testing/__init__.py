"""Public testing helpers: table assertions and hypothesis strategies.

``engagequal.testing.assertions`` needs only the core dependencies;
``engagequal.testing.strategies`` needs ``hypothesis`` (extra ``test``) and
is imported on its own:

>>> from engagequal.testing import assert_tables_equal
>>> import pyarrow as pa
>>> assert_tables_equal(pa.table({"u": [2, 1], "x": [0.5, 1.0]}),
...                     pa.table({"u": [1, 2], "x": [1.0, 0.5]}), key=["u"])
"""

from engagequal.testing.assertions import (
    assert_events_equal,
    assert_no_nan,
    assert_tables_equal,
)

__all__ = ["assert_events_equal", "assert_no_nan", "assert_tables_equal"]
