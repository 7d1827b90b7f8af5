"""Past one machine: the same kernels on a distributed engine.

:mod:`engagequal.distributed.dask` runs the analysis on a Dask cluster
(``pip install 'engagequal[dask]'``; reach it through :func:`engagequal.dask.analyze`).
:mod:`engagequal.distributed.arrow` holds Arrow-in, Arrow-out partition kernels
that any engine can call, and :mod:`engagequal.distributed.recipes` shows how
to call them from Ray (``map_batches``) and Spark (``mapInArrow``).

Importing this package does not import Dask.
"""

from __future__ import annotations

__all__: list[str] = []
