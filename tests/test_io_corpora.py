"""Reddit and ConvoKit loaders (ConvoKit both ways)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from conftest import data_path
from engagequal.errors import FormatError
from engagequal.io import (
    READ_OPTIONS,
    load_info,
    read_convokit,
    read_mbox,
    read_reddit,
    write_convokit,
)

REDDIT = [
    {"kind": "t3", "data": {"id": "p1", "name": "t3_p1", "author": "ann", "created_utc": 100,
                            "title": "question"}},
    {"id": "c1", "author": "bob", "created_utc": 160, "parent_id": "t3_p1", "link_id": "t3_p1",
     "body": "answer"},
    {"id": "c2", "author": "ann", "created_utc": "220", "parent_id": "t1_c1",
     "link_id": "t3_p1", "body": "thanks"},
    {"id": "c3", "author": "[deleted]", "created_utc": 230, "parent_id": "t1_c2",
     "link_id": "t3_p1", "body": "[removed]"},
    {"id": "c4", "author": "cy", "created_utc": 240, "parent_id": "t1_gone",
     "link_id": "t3_p1", "body": "orphan"},
    {"id": "c1", "author": "bob", "created_utc": 160, "parent_id": "t3_p1", "link_id": "t3_p1",
     "body": "answer"},
]


def test_reddit_exact(tmp_path: Path) -> None:
    p = tmp_path / "RC.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write("\n".join(json.dumps(r) for r in REDDIT) + "\n\n")
    t = read_reddit(p)
    got = [(r["actor"], r["kind"], r["event_id"], r["parent"], r["thread"])
           for r in t.to_pylist()]
    assert got == [
        ("ann", "comment", "t3_p1", None, "t3_p1"),
        ("bob", "comment", "t1_c1", "t3_p1", "t3_p1"),
        ("ann", "reply", "t1_c2", "t1_c1", "t3_p1"),
        ("[deleted]:t1_c3", "reply", "t1_c3", "t1_c2", "t3_p1"),
        ("cy", "reply", "t1_c4", "t1_gone", "t3_p1"),
    ]
    assert t["ts"].cast("int64").to_pylist()[2] == 220_000
    info = load_info(t)
    assert info.set_aside == {"duplicate_id": 1} and info.notes == {"deleted_author": 1}
    assert info.records == 6
    ev = eq.read_events(t, **READ_OPTIONS)
    users = ev.users.to_pylist()
    assert ev.target[0] == -1  # the submission is aimed at no one
    assert [users[x] for x in ev.target[1:3]] == ["ann", "bob"]  # the parents' authors
    assert ev.accounting.notes["orphan_parent"] == 1


def test_reddit_broken_line(tmp_path: Path) -> None:
    p = tmp_path / "rc.jsonl"
    lines = [json.dumps(r) for r in REDDIT[:3]]
    lines.insert(2, '{"id": "zz", "author": ')
    p.write_text("\n".join(lines))
    with pytest.raises(FormatError, match=r"rc\.jsonl: line 3") as ei:
        read_reddit(p)
    assert ei.value.location == "line 3"
    t = read_reddit(p, strict=False)
    assert t.num_rows == 3 and load_info(t).set_aside == {"bad_json": 1}
    p.write_text(json.dumps({"id": "x", "author": "a"}))
    with pytest.raises(FormatError, match="created_utc"):
        read_reddit(p)


UTTS = [
    {"id": "u1", "speaker": "ann", "conversation_id": "u1", "reply_to": None,
     "timestamp": 1000, "text": "hi", "meta": {}},
    {"id": "u2", "speaker": "bob", "conversation_id": "u1", "reply_to": "u1",
     "timestamp": 1060.5, "text": "hello", "meta": {}},
    {"id": "u3", "user": "ann", "root": "u1", "reply_to": "u2", "timestamp": "1120",
     "text": "old field names"},
]


def test_convokit_exact_and_errors(tmp_path: Path) -> None:
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "utterances.jsonl").write_text("\n".join(json.dumps(u) for u in UTTS))
    t = read_convokit(d)
    got = [(r["actor"], r["target"], r["kind"], r["event_id"], r["parent"], r["thread"])
           for r in t.to_pylist()]
    assert got == [("ann", None, "comment", "u1", None, "u1"),
                   ("bob", None, "reply", "u2", "u1", "u1"),
                   ("ann", None, "reply", "u3", "u2", "u1")]
    assert t["ts"].cast("int64").to_pylist() == [1_000_000, 1_060_500, 1_120_000]
    bad = [*UTTS, {"id": "u4", "speaker": "cy", "reply_to": "u3", "timestamp": None}]
    (d / "utterances.jsonl").write_text("\n".join(json.dumps(u) for u in bad))
    with pytest.raises(FormatError, match=r"line 4.*timestamp"):
        read_convokit(d)
    assert load_info(read_convokit(d, strict=False)).set_aside == {"no_timestamp": 1}


def test_convokit_round_trip_of_a_mailbox(tmp_path: Path) -> None:
    t = read_mbox(data_path("apache-mbox", "maven-dev-2017-12-mboxvm.mbox"))
    d = write_convokit(t, tmp_path / "maven")
    assert sorted(p.name for p in d.iterdir()) == ["conversations.json", "corpus.json",
                                                    "index.json", "speakers.json",
                                                    "utterances.jsonl"]
    n_utts = len((d / "utterances.jsonl").read_text().splitlines())
    assert n_utts == load_info(t).records == 221
    back = read_convokit(d)
    assert back.select(t.column_names).to_pylist() == t.to_pylist()
    with pytest.raises(eq.errors.OptionError, match="not empty"):
        write_convokit(t, d)


ids = st.sampled_from(["a", "b", "c", "d"])


@given(st.lists(st.tuples(ids, st.one_of(st.none(), ids), st.integers(0, 10**9),
                          st.sampled_from(["reply", "message", "like", "mention"])),
                min_size=1, max_size=25),
       st.randoms(use_true_random=False))
def test_convokit_round_trip_property(rows: list[tuple[str, str | None, int, str]],
                                      rnd: object) -> None:
    import random
    import tempfile

    assert isinstance(rnd, random.Random)
    n = len(rows)
    parents = [None] + [None if rnd.random() < 0.3 else f"e{rnd.randrange(i)}"
                        for i in range(1, n)]
    table = pa.table({
        "actor": [r[0] for r in rows], "target": [r[1] for r in rows],
        "ts": pa.array([r[2] * 1000 for r in rows], pa.int64()).cast(
            pa.timestamp("ms", tz="UTC")),
        "kind": [r[3] for r in rows], "event_id": [f"e{i}" for i in range(n)],
        "parent": parents,
    })
    with tempfile.TemporaryDirectory() as tmp:
        back = read_convokit(write_convokit(table, Path(tmp) / "c"))
    assert back.select(table.column_names).to_pylist() == table.to_pylist()
    # threads: the root of each reply chain
    ev = eq.read_events(back, **READ_OPTIONS)
    assert ev.tree is not None
    roots = ev.tree.event_ids.take(pa.array(ev.tree.root)).to_pylist()
    assert back["thread"].to_pylist() == roots


def test_reddit_listing_and_owner(tmp_path: Path) -> None:
    # an API Listing (GET /comments/<id>.json gives two: the post, then its comments)
    listing = {"kind": "Listing", "data": {"children": [
        {"kind": "t1", "data": {"id": "c9", "name": "t1_c9", "author": "bob",
                                "created_utc": 300.0, "parent_id": "t3_p1",
                                "link_id": "t3_p1"}},
        {"kind": "more", "data": {"count": 4, "children": ["c10", "c11"]}}]}}
    p = tmp_path / "api.jsonl"
    p.write_text(json.dumps(REDDIT[0]) + "\n" + json.dumps(listing) + "\n")
    t = read_reddit(p, owner="ann")
    assert t["event_id"].to_pylist() == ["t3_p1", "t1_c9"]
    assert t["parent"].to_pylist() == [None, "t3_p1"]
    assert eq.io.owner_of(t) == "ann"


@pytest.mark.parametrize("fmt", ["reddit", "convokit"])
def test_truncated_gzip(tmp_path: Path, fmt: str) -> None:
    """A cut download of a compressed dump: strict names the file and the line
    where it breaks off; lenient keeps every line before it."""
    n = 4000
    if fmt == "reddit":
        recs = [{"id": f"c{i}", "author": f"u{i % 7}", "created_utc": 1000 + i,
                 "parent_id": "t3_p", "link_id": "t3_p", "body": "x" * 40} for i in range(n)]
        name, reader = "RC_2024-01.jsonl.gz", read_reddit
    else:
        recs = [{"id": f"u{i}", "speaker": f"s{i % 7}", "conversation_id": "u0",
                 "reply_to": None if i == 0 else f"u{i - 1}", "timestamp": i, "text": "y" * 40}
                for i in range(n)]
        name, reader = "utterances.jsonl.gz", read_convokit
    data = gzip.compress(("\n".join(json.dumps(r) for r in recs) + "\n").encode())
    p = tmp_path / name
    p.write_bytes(data)
    assert reader(p).num_rows == n
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"line \d+: the file breaks off") as ei:
        reader(p)
    assert ei.value.path == str(p) and ei.value.reason == "truncated"
    cut_line = int(ei.value.location.split()[1])
    t = reader(p, strict=False)
    assert t.num_rows == cut_line - 1 > n // 4
    info = load_info(t)
    assert info.set_aside == {"truncated": 1} and info.records == cut_line


def test_convokit_broken_line(tmp_path: Path) -> None:
    d = tmp_path / "c"
    d.mkdir()
    lines = [json.dumps(UTTS[0]), '{"id": "u2", "speaker": "bob", ', json.dumps(UTTS[1])]
    (d / "utterances.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError) as ei:
        read_convokit(d)
    assert str(d / "utterances.jsonl") in str(ei.value) and ei.value.location == "line 2"
    t = read_convokit(d, strict=False)
    assert t["event_id"].to_pylist() == ["u1", "u2"]
    assert load_info(t).set_aside == {"bad_json": 1}


def _convokit_dump(d: Path) -> Path:
    """A corpus as ConvoKit's ``Corpus.dump`` writes it (convokit/model/corpus_helpers.py:
    the parent under "reply-to", "vectors" lists, speakers' and conversations'
    {"meta": ..., "vectors": ...} entries)."""
    d.mkdir()
    utts = [
        {"id": "u1", "conversation_id": "u1", "text": "hi", "speaker": "ann", "meta": {},
         "reply-to": None, "timestamp": 100, "vectors": []},
        {"id": "u2", "conversation_id": "u1", "text": "ho", "speaker": "bob",
         "meta": {"score": 3}, "reply-to": "u1", "timestamp": 160, "vectors": []},
        {"id": "u3", "conversation_id": "u1", "text": "ha", "speaker": "ann", "meta": {},
         "reply-to": "u2", "timestamp": 220, "vectors": []},
        {"id": "v1", "conversation_id": "v1", "text": "new", "speaker": "cy", "meta": {},
         "reply-to": None, "timestamp": 300, "vectors": []},
    ]
    (d / "utterances.jsonl").write_text("".join(json.dumps(u) + "\n" for u in utts))
    speakers = {s: {"meta": {}, "vectors": []} for s in ("ann", "bob", "cy")}
    (d / "speakers.json").write_text(json.dumps(speakers))
    (d / "conversations.json").write_text(json.dumps(
        {c: {"meta": {}, "vectors": []} for c in ("u1", "v1")}))
    (d / "corpus.json").write_text("{}")
    (d / "index.json").write_text(json.dumps(
        {"utterances-index": {"score": ["<class 'int'>"]}, "speakers-index": {},
         "conversations-index": {}, "overall-index": {}, "version": 1, "vectors": []}))
    return d


def test_convokit_reads_what_convokit_dumps(tmp_path: Path) -> None:
    t = read_convokit(_convokit_dump(tmp_path / "dumped"), owner="ann")
    got = [(r["actor"], r["kind"], r["event_id"], r["parent"], r["thread"])
           for r in t.to_pylist()]
    assert got == [("ann", "comment", "u1", None, "u1"), ("bob", "reply", "u2", "u1", "u1"),
                   ("ann", "reply", "u3", "u2", "u1"), ("cy", "comment", "v1", None, "v1")]
    assert eq.io.owner_of(t) == "ann"
    ev = eq.read_events(t, **READ_OPTIONS)
    users = ev.users.to_pylist()
    assert [users[x] for x in ev.target[1:3]] == ["ann", "bob"]  # the parents' speakers
    # and out again: both parent keys, so any ConvoKit version (and the docs) agree
    out = write_convokit(t, tmp_path / "again")
    first_two = [json.loads(x) for x in (out / "utterances.jsonl").read_text().splitlines()[:2]]
    assert [(u["reply_to"], u["reply-to"]) for u in first_two] == [(None, None), ("u1", "u1")]
    index = json.loads((out / "index.json").read_text())
    assert {"utterances-index", "speakers-index", "conversations-index", "overall-index",
            "version"} <= set(index)
    assert read_convokit(out).select(t.column_names).to_pylist() == t.to_pylist()
