"""Past one machine: the same kernels on a distributed engine.

:mod:`engagequal.distributed.dask` runs the whole analysis on a Dask cluster
(``pip install 'engagequal[dask]'``; reach it through :func:`engagequal.dask.analyze`).
:mod:`engagequal.distributed.partials` and :mod:`engagequal.distributed.threads`
hold the per-partition steps and their merges as plain numpy / Arrow functions
that any engine can call, and :mod:`engagequal.distributed.recipes` shows how
to call Arrow-in, Arrow-out kernels from Ray (``map_batches``) and Spark
(``mapInArrow``).

Importing this package does not import Dask.
"""

from __future__ import annotations

__all__: list[str] = []
