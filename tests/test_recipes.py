"""Ray and Spark recipes (opt-in: ``pytest -m recipes``; skipped without the engines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engagequal as eq
from engagequal.distributed import recipes
from engagequal.synth import simple_events

pytestmark = pytest.mark.recipes


@pytest.fixture(autouse=True)
def _opt_in(request: pytest.FixtureRequest) -> None:
    if "recipes" not in (request.config.getoption("-m") or ""):
        pytest.skip("Ray / Spark recipes run only with -m recipes")


def _same(got: dict[str, pa.Table], table: pa.Table) -> None:
    for level in ("global", "user", "dyad"):
        want = eq.reciprocity(table, level=level)
        assert got[level].num_rows == want.num_rows
        for name in ("arc", "pair_ratio", "users", "ties", "self_interactions"):
            if name in want.column_names:
                assert got[level].column(name).equals(want.column(name))
        if level != "global":
            assert got[level].column(0).equals(want.column(0))


def test_ray_map_batches(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    table = simple_events(50, 4000, seed=2)
    for i in range(4):
        pq.write_table(table.slice(i * 1000, 1000), tmp_path / f"p{i}.parquet")
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        _same(recipes.ray_reciprocity(str(tmp_path)), table)
    finally:
        ray.shutdown()


def test_spark_map_in_arrow() -> None:
    pyspark = pytest.importorskip("pyspark")
    spark: Any = pyspark.sql.SparkSession.builder.master("local[2]").getOrCreate()
    try:
        table = simple_events(50, 4000, seed=2)
        sdf = spark.createDataFrame(table.to_pandas()).repartition(3)
        _same(recipes.spark_reciprocity(sdf), table)
    finally:
        spark.stop()
