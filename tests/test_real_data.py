"""Real data: the figures published for SNAP CollegeMsg and email-Eu-core departments."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import engagequal as eq
from conftest import data_path


def _read_snap(path: Path) -> pa.Table:
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=["actor", "target", "ts"]),
        parse_options=pacsv.ParseOptions(delimiter=" "),
    )


def test_college_msg_published_figures(college_msg: Path) -> None:
    ev = eq.read_events(_read_snap(college_msg))
    assert ev.n_events == 59_835 and ev.n_users == 1_899
    tabs = eq.reciprocity_tables(ev)
    g = tabs["global"].to_pylist()[0]
    assert g["ties"] == 20_296  # distinct directed pairs (SNAP, SuiteSparse nonzeros)
    assert round(g["arc"], 6) == 0.636382  # SNAP / KONECT / SuiteSparse 63.6 %
    assert g["mutual_pairs"] == 6_458
    assert g["self_interactions"] == 0 and g["users"] == 1_899
    d = tabs["dyad"]
    assert d.num_rows == 20_296 - 6_458  # unordered pairs
    n = sum(d["n_uv"].to_pylist()) + sum(d["n_vu"].to_pylist())
    assert n == 59_835 and round(n / g["ties"], 3) == 2.948  # messages per directed pair
    u = tabs["user"]
    assert sum(u["out_ties"].to_pylist()) == 20_296
    senders = sum(1 for x in u["out_ties"].to_pylist() if x > 0)
    receivers = sum(1 for x in u["in_ties"].to_pylist() if x > 0)
    assert (senders, receivers) == (1_350, 1_862)
    # time span 193.706 days, first and last contact in the input's epoch seconds
    first, last = min(d["first"].to_pylist()), max(d["last"].to_pylist())
    assert round((last - first) / 86_400, 3) == 193.706


DEPTS = {  # nodes, temporal edges, static edges, reciprocity, mutual dyads (README)
    1: (309, 61_046, 3_031, 0.721214, 1_093),
    2: (162, 46_772, 1_772, 0.820542, 727),
    3: (89, 12_216, 1_506, 0.707835, 533),
    4: (142, 48_141, 1_375, 0.788364, 542),
}


@pytest.mark.parametrize("dept", sorted(DEPTS))
def test_email_eu_core_departments(dept: int) -> None:
    path = data_path("email-eu-core-temporal-dept", f"email-Eu-core-temporal-Dept{dept}.txt")
    nodes, events, static, arc, mutual = DEPTS[dept]
    ev = eq.read_events(_read_snap(path))
    assert (ev.n_events, ev.n_users) == (events, nodes)
    g = eq.reciprocity(ev).to_pylist()[0]
    assert g["ties"] == static and g["mutual_pairs"] == mutual
    assert round(g["arc"], 6) == arc
    assert g["self_interactions"] == 0
