"""engagequal.io mail loaders: exact events on hand-written mailboxes, errors,
bounded memory, and the Apache mbox figures of shared/data/apache-mbox/README.md."""

from __future__ import annotations

import mailbox
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import engagequal as eq
from conftest import data_path
from engagequal.errors import FormatError, SourceError
from engagequal.io import READ_OPTIONS, load_info, read, read_maildir, read_mbox


def _msg(frm: str, to: str | None, mid: str | None, date: str | None, *, cc: str | None = None,
         irt: str | None = None, refs: str | None = None, extra: str = "",
         body: str = "text\n") -> str:
    h = [f"From: {frm}"]
    if to is not None:
        h.append(f"To: {to}")
    if cc is not None:
        h.append(f"Cc: {cc}")
    if date is not None:
        h.append(f"Date: {date}")
    if mid is not None:
        h.append(f"Message-ID: <{mid}>")
    if irt is not None:
        h.append(f"In-Reply-To: <{irt}>")
    if refs is not None:
        h.append(f"References: {refs}")
    if extra:
        h.append(extra)
    return "\n".join(h) + "\n\n" + body


ENV = "From sender@example.org Mon Jan  1 09:00:00 2024\n"
LIST = "List-Post: <mailto:dev@list.example>"


@pytest.fixture
def box(tmp_path: Path) -> Path:
    msgs = [
        # a new thread on the list: aimed at no one
        _msg('"Ann A." <Ann@Example.org>', "dev@list.example", "m1@x",
             "Mon, 1 Jan 2024 10:00:00 +0000", extra=LIST),
        # a reply to the list: aimed at the parent's author (ann); cc carol as well
        _msg("Bob <bob@example.org>", "dev@list.example", "m2@x",
             "Mon, 1 Jan 2024 11:30:00 +0100", cc="Carol <carol@example.org>, bob@example.org",
             irt="m1@x", refs="<m1@x>", extra=LIST),
        # folded To, two people, parent only in References; no Date (envelope time)
        _msg("carol@example.org", "ann@example.org,\n\tdan@example.org", "m3@x", None,
             refs="<m1@x> <m2@x>", body=">From the start\nFrom-here on\n"),
        # no Message-ID, replies to a parent outside the box
        _msg("dan@example.org", "ann@example.org", None, "Tue, 2 Jan 2024 08:00:00 -0500",
             irt="elsewhere@y"),
        # the same message as m1 again (stored twice): skipped and counted
        _msg("ann@example.org", "dev@list.example", "m1@x", "Mon, 1 Jan 2024 10:00:00 +0000"),
    ]
    p = tmp_path / "box.mbox"
    p.write_text("".join(ENV + m + "\n" for m in msgs))
    return p


def test_mbox_exact_events(box: Path) -> None:
    t = read_mbox(box)
    cols = ["actor", "target", "kind", "event_id", "parent", "thread", "record"]
    got = t.select(cols).to_pylist()
    want = [
        ("ann@example.org", None, "m1@x", None, "m1@x"),
        ("bob@example.org", "ann@example.org", "m2@x", "m1@x", "m1@x"),
        ("bob@example.org", "carol@example.org", "m2@x -> carol@example.org", "m1@x", "m1@x"),
        ("carol@example.org", "ann@example.org", "m3@x", "m2@x", "m1@x"),
        ("carol@example.org", "dan@example.org", "m3@x -> dan@example.org", "m2@x", "m1@x"),
        ("dan@example.org", "ann@example.org", "noid:box.mbox#4", "elsewhere@y",
         "noid:box.mbox#4"),
    ]
    assert [(r["actor"], r["target"], r["event_id"], r["parent"], r["thread"]) for r in got] \
        == want
    assert {r["kind"] for r in got} == {"email"}
    assert [r["record"] for r in got] == ["m1@x", "m2@x", "m2@x", "m3@x", "m3@x",
                                          "noid:box.mbox#4"]
    ts = t["ts"].cast("int64").to_pylist()
    assert ts[0] == 1704103200000  # 2024-01-01T10:00:00Z
    assert ts[1] == ts[2] == 1704105000000  # 11:30 +0100 = 10:30Z
    assert ts[3] == 1704099600000  # the envelope line, 09:00 UTC
    assert ts[5] == 1704200400000  # 08:00 -0500 = 13:00Z
    info = load_info(t)
    assert (info.format, info.records, info.rows) == ("mbox", 5, 6)
    assert info.set_aside == {"duplicate_id": 1}
    assert info.notes["date_from_envelope"] == 1
    assert info.notes["no_message_id"] == 1
    assert info.notes["list_to_parent_author"] == 1
    assert info.notes["list_unresolved"] == 1


def test_mbox_feeds_read_events(box: Path) -> None:
    ev = eq.read_events(read_mbox(box), **READ_OPTIONS)
    assert ev.tree is not None
    users = ev.users.to_pylist()
    # the new thread posted to the list is aimed at no one
    assert ev.target[0] == -1
    assert users[ev.target[5]] == "ann@example.org"
    assert users[ev.target[1]] == "ann@example.org"
    assert ev.tree.depth.tolist() == [0, 1, 1, 2, 2, 0]
    assert ev.accounting.notes["orphan_parent"] == 1
    assert len(ev.tree.threads) == 2


def test_list_policy_keep_and_given_lists(box: Path) -> None:
    t = read_mbox(box, list_policy="keep")
    assert t["target"].to_pylist()[:2] == ["dev@list.example", "dev@list.example"]
    t2 = read_mbox(box, detect_lists=False)
    assert t2["target"].to_pylist()[0] == "dev@list.example"
    t3 = read_mbox(box, detect_lists=False, lists=["DEV@list.example"])
    assert t3["target"].to_pylist()[0] is None


def test_same_messages_as_stdlib_mailbox(box: Path) -> None:
    n_std = len(mailbox.mbox(box))
    assert load_info(read_mbox(box)).records == n_std == 5


def test_message_without_date_is_a_typed_error(tmp_path: Path) -> None:
    p = tmp_path / "nodate.mbox"
    p.write_text(ENV + _msg("a@x.org", "b@x.org", "ok@x", "Mon, 1 Jan 2024 10:00:00 +0000")
                 + "\n" + ENV + _msg("a@x.org", "b@x.org", "late@x", None)
                 + "\n" + ENV + _msg("b@x.org", "a@x.org", "bad@x", "not a date"))
    with pytest.raises(FormatError) as ei:
        read_mbox(p, date_fallback=False)
    e = ei.value
    assert isinstance(e, ValueError)
    assert str(p) in str(e) and "line 9 (message 2)" in str(e) and "late@x" in str(e)
    assert e.reason == "no_date" and e.path == str(p)
    t = read_mbox(p, date_fallback=False, strict=False)
    info = load_info(t)
    assert t["event_id"].to_pylist() == ["ok@x"]
    assert info.set_aside == {"no_date": 2} and info.records == 3
    assert len(info.examples) == 2


def test_not_an_mbox_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "x.mbox"
    p.write_text("hello\nworld\n")
    with pytest.raises(FormatError, match=r"line 1.*not an mbox"):
        read_mbox(p)
    with pytest.raises(SourceError):
        read_mbox(tmp_path / "absent.mbox")
    empty = tmp_path / "empty.mbox"
    empty.write_text("")
    assert read_mbox(empty).num_rows == 0


def test_message_without_from(tmp_path: Path) -> None:
    p = tmp_path / "nofrom.mbox"
    p.write_text(ENV + "To: a@x.org\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody\n")
    with pytest.raises(FormatError, match="From"):
        read_mbox(p)
    assert load_info(read_mbox(p, strict=False)).set_aside == {"no_from": 1}


def test_maildir(tmp_path: Path) -> None:
    d = tmp_path / "Mail"
    mb = mailbox.Maildir(d)
    mb.add(_msg("ann@x.org", "bob@x.org", "a1@x", "Mon, 1 Jan 2024 10:00:00 +0000").encode())
    sent = mb.add_folder("Sent")
    sent.add(_msg("bob@x.org", "ann@x.org", "b1@x", "Mon, 1 Jan 2024 12:00:00 +0000",
                  irt="a1@x").encode())
    key = mb.add(_msg("cy@x.org", "ann@x.org", "c1@x", None).encode())
    t = read_maildir(d)
    rows = sorted(t.select(["actor", "target", "event_id", "parent"]).to_pylist(),
                  key=lambda r: r["event_id"])
    assert rows == [
        {"actor": "ann@x.org", "target": "bob@x.org", "event_id": "a1@x", "parent": None},
        {"actor": "bob@x.org", "target": "ann@x.org", "event_id": "b1@x", "parent": "a1@x"},
        {"actor": "cy@x.org", "target": "ann@x.org", "event_id": "c1@x", "parent": None},
    ]
    # the message without Date takes its delivery time from the Maildir file name
    ts = dict(zip(t["event_id"].to_pylist(), t["ts"].cast("int64").to_pylist()))
    assert ts["c1@x"] == int(key.split(".")[0]) * 1000
    assert len(read_maildir(d, folders=False)) == 2
    with pytest.raises(FormatError, match="no Date"):
        read_maildir(d, date_fallback=False)
    assert read("maildir", d).num_rows == 3


def _peak_read(path: Path, n: int) -> tuple[int, int]:
    body = "x" * 70 + "\n"
    with open(path, "w") as f:
        for i in range(n):
            f.write(ENV + _msg(f"u{i % 50}@x.org", f"u{(i * 7) % 50}@x.org", f"m{i}@x",
                               "Mon, 1 Jan 2024 10:00:00 +0000", body=body * 280) + "\n")
    tracemalloc.start()
    t = read_mbox(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert t.num_rows == n
    return peak, path.stat().st_size


def test_streamed_in_bounded_memory(tmp_path: Path) -> None:
    small, _ = _peak_read(tmp_path / "small.mbox", 250)
    big, size = _peak_read(tmp_path / "big.mbox", 1000)
    # four times the file, not four times the memory: bodies are never held
    assert big < small + 1_000_000, (small, big)
    assert big < size / 4, (big, size)


# --- the real Apache archives ---------------------------------------------------

FILES = {
    "httpd": ["httpd-users-2020-07.mbox"],
    "maven11": ["maven-dev-2017-11-mboxvm.mbox"],
    "maven12": ["maven-dev-2017-12-mboxvm.mbox"],
    "maven": ["maven-dev-2017-11-mboxvm.mbox", "maven-dev-2017-12-mboxvm.mbox"],
}
# shared/data/apache-mbox/README.md, "Figures computed here"
README = {
    #          msgs auth ref  miss roots edges cross maxd mean    run root  hist >=2..>=6
    "httpd": (108, 41, 74, 7, 41, 67, 56, 8, 1.2778, 4, 4, (37, 15, 4, 0, 0), 24, 13),
    "maven11": (317, 37, 236, 33, 114, 203, 136, 15, 2.1893, 6, 5, (87, 31, 14, 4, 1), 35, 41),
    "maven12": (221, 32, 173, 27, 75, 146, 112, 20, 3.0362, 6, 6, (68, 25, 13, 6, 2), 26, 42),
    "maven": (538, 49, 409, 51, 180, 358, 250, 20, 2.6078, 6, 6, (156, 56, 27, 11, 3), 59, 42),
}


def _alternating_runs(parent: list[int], author: list[int]) -> list[int]:
    """Naive per-message run length (README definition), parents first by depth."""
    order = sorted(range(len(parent)), key=lambda i: _depth(parent, i))
    run = [0] * len(parent)
    for i in order:
        p = parent[i]
        if p < 0 or author[i] == author[p]:
            run[i] = 1
        elif run[p] >= 2 and author[parent[p]] == author[i]:
            run[i] = run[p] + 1
        else:
            run[i] = 2
    return run


def _depth(parent: list[int], i: int) -> int:
    d = 0
    while parent[i] >= 0:
        i = parent[i]
        d += 1
    return d


@pytest.mark.parametrize("name", sorted(FILES))
def test_apache_mbox_figures(name: str) -> None:
    paths = [data_path("apache-mbox", f) for f in FILES[name]]
    (msgs, authors, with_ref, missing, roots, edges, cross, maxd, meand, run_max, run_root,
     hist, with_replies, largest) = README[name]
    t = read_mbox(paths)
    info = load_info(t)
    assert info.records == msgs and info.set_aside == {}
    ev = eq.read_events(t, **READ_OPTIONS)
    assert ev.accounting.rows_used == t.num_rows
    tree = ev.tree
    assert tree is not None
    first = np.flatnonzero(pc.equal(t["event_id"], t["record"]).to_numpy(zero_copy_only=False))
    assert first.size == msgs
    # copies (further recipients) are never parents, so the first rows form the tree
    pos = np.full(t.num_rows, -1)
    pos[first] = np.arange(first.size)
    par = tree.parent[first]
    assert (pos[par[par >= 0]] >= 0).all()
    parent = np.where(par >= 0, pos[np.maximum(par, 0)], -1).tolist()
    actor = ev.actor[first].tolist()
    assert len(set(actor)) == authors
    assert int(pc.sum(pc.is_valid(t["parent"].take(first))).as_py()) == with_ref
    assert sum(1 for p, q in zip(parent, t["parent"].take(first).to_pylist())
               if p < 0 and q is not None) == missing
    assert sum(1 for p in parent if p < 0) == roots == len(tree.threads)
    assert sum(1 for p in parent if p >= 0) == edges
    assert sum(1 for i, p in enumerate(parent) if p >= 0 and actor[i] != actor[p]) == cross
    depth = tree.depth[first]
    assert int(depth.max()) == maxd
    assert round(float(depth.mean()), 4) == meand
    run = _alternating_runs(parent, actor)
    assert max(run) == run_max
    assert max(r for r, d in zip(run, depth) if r == d + 1) == run_root
    kids: dict[int, list[int]] = {}
    for i, p in enumerate(parent):
        if p >= 0:
            kids.setdefault(p, []).append(i)
    maximal = [i for i in range(len(run))
               if run[i] >= 2 and not any(run[c] == run[i] + 1 for c in kids.get(i, []))]
    assert tuple(sum(1 for i in maximal if run[i] >= n) for n in (2, 3, 4, 5, 6)) == hist
    root_of = tree.root[first]
    sizes = Counter(root_of.tolist())
    assert max(sizes.values()) == largest
    assert sum(1 for i, p in enumerate(parent) if p < 0 and kids.get(i)) == with_replies
    if hasattr(eq, "conversations"):
        one = t.take(first)
        c = eq.conversations(one, **READ_OPTIONS)
        assert c.num_rows == roots
        assert pc.sum(c["size"]).as_py() == msgs
        assert pc.max(c["max_depth"]).as_py() == maxd
        assert pc.max(c["longest_exchange"]).as_py() == run_max
        assert pc.sum(c["exchanges"]).as_py() == hist[0]
        assert pc.sum(c["conversations"]).as_py() == hist[1]


def test_apache_dates_and_envelope_fallback() -> None:
    t = read_mbox(data_path("apache-mbox", "maven-dev-2017-11-mboxvm.mbox"))
    info = load_info(t)
    # README: 34 messages without Date, 1 without Message-ID
    assert info.notes["date_from_envelope"] == 34
    assert info.notes["no_message_id"] == 1
    with pytest.raises(FormatError, match="no Date"):
        read_mbox(data_path("apache-mbox", "maven-dev-2017-11-mboxvm.mbox"), date_fallback=False)
    lenient = read_mbox(data_path("apache-mbox", "maven-dev-2017-11-mboxvm.mbox"),
                        date_fallback=False, strict=False)
    assert load_info(lenient).set_aside == {"no_date": 34}
    h = read_mbox(data_path("apache-mbox", "httpd-users-2020-07.mbox"))
    ts = h["ts"]
    assert str(pc.min(ts).as_py()) == "2020-07-01 05:03:41+00:00"
    assert str(pc.max(ts).as_py()) == "2020-07-31 19:01:12+00:00"
    # mailing-list policy: no row is aimed at the list itself
    assert "users@httpd.apache.org" not in set(h["target"].to_pylist())


@pytest.mark.parametrize("value", [
    "a@x.org", "Ann <Ann@X.org>", "Ann <a@x.org>, bob@y.org", '"Doe, J" <j@x.org>, k@y.org',
    "undisclosed-recipients:;", "a@x.org (Ann)", "=?utf-8?q?Jos=C3=A9?= <jose@x.org>",
    "  spaced@x.org  ,  Other Name <o@x.org> ", "group: a@x.org, b@x.org;",
])
def test_address_fast_path_agrees_with_stdlib(value: str) -> None:
    import email.utils

    from engagequal.io.mail import _parse_addresses

    want = tuple(a.strip().lower() for _, a in email.utils.getaddresses([value]) if a.strip())
    assert _parse_addresses(value) == want


# the rest of the README's figures: per file, (parent from References only, roots
# without any parent reference, self-replies, first and last Date (UTC), the longest
# run's two authors and last Message-ID)
README_MORE = {
    "httpd": (5, 34, 11, ("2020-07-01 05:03:41", "2020-07-31 19:01:12"),
              ("rammsteinium@me.com.invalid", "wendellhatcher1074@gmail.com"),
              "7E1FB2EF-DB3A-46CA-94E0-8F57FB5A99E0@me.com"),
    "maven11": (2, 81, 67, ("2017-11-01 06:28:02", "2017-11-30 23:09:32"),
                ("herve.boutemy@free.fr", "manfred@simpligility.com"),
                "20171126213620.2202429C0A75@dd17332.kasserver.com"),
    "maven12": (1, 48, 34, ("2017-12-01 08:19:02", "2017-12-31 17:02:53"),
                ("khmarbaise@gmx.de", "rfscholte@apache.org"),
                "0262446f-2183-efb1-7340-23c2c895f84a@gmx.de"),
    "maven": (3, 129, 108, ("2017-11-01 06:28:02", "2017-12-31 17:02:53"), None, None),
}


def _one_per_record(t: pa.Table) -> pa.Table:
    return t.filter(pc.equal(t["event_id"], t["record"]))


@pytest.mark.parametrize("name", sorted(FILES))
def test_apache_mbox_more_figures(name: str) -> None:
    paths = [data_path("apache-mbox", f) for f in FILES[name]]
    from_refs, no_ref, self_replies, (first, last), pair, run_end = README_MORE[name]
    t = _one_per_record(read_mbox(paths))
    mids = t["event_id"].to_pylist()
    parents = t["parent"].to_pylist()
    actors = t["actor"].to_pylist()
    assert sum(1 for q in parents if q is None) == no_ref
    pos = {m: i for i, m in enumerate(mids)}
    assert sum(1 for i, q in enumerate(parents)
               if q in pos and actors[pos[q]] == actors[i]) == self_replies
    # the parent named by References alone: the last <...> token (stdlib read)
    refs_only = {}
    for path in paths:
        for msg in mailbox.mbox(path):
            irt, refs = msg.get("In-Reply-To"), msg.get("References")
            if not (irt and "<" in irt) and refs and "<" in refs:
                refs_only[msg["Message-ID"].strip()[1:-1]] = refs.split()[-1].strip("<>")
    assert len(refs_only) == from_refs
    assert all(parents[pos[m]] == q for m, q in refs_only.items())
    # the Date range of the messages that have a Date (the others set aside)
    dated = read_mbox(paths, date_fallback=False, strict=False)
    ts = dated["ts"]
    assert (str(pc.min(ts).as_py())[:19], str(pc.max(ts).as_py())[:19]) == (first, last)
    if pair is not None:
        parent = [pos.get(q, -1) if q is not None else -1 for q in parents]
        author = [hash(a) for a in actors]
        run = _alternating_runs(parent, author)
        end = pos[run_end]
        assert run[end] == max(run)
        assert {actors[end], actors[parent[end]]} == set(pair)


def test_apache_maven_bots_and_runs_across_months() -> None:
    """README: the GitHub-mirror bots, the figures without them, and the November
    thread whose 6-turn run from the root needs December."""
    nov, dec = (data_path("apache-mbox", f) for f in FILES["maven"])
    both = read_mbox([nov, dec])
    one = _one_per_record(both)
    counts = Counter(one["actor"].to_pylist())
    assert (counts["git@git.apache.org"], counts["git@apache.org"]) == (133, 39)
    bots = pa.array(["git@git.apache.org", "git@apache.org"])
    people = one.filter(pc.invert(pc.is_in(one["actor"], value_set=bots)))
    assert (people.num_rows, len(set(people["actor"].to_pylist()))) == (366, 47)
    c = eq.conversations(people.drop_columns(["thread"]), event_id="event_id",
                         parent="parent")
    assert c.num_rows == 64  # roots, replies to bot mail becoming roots
    assert (pc.max(c["max_depth"]).as_py(), pc.max(c["longest_exchange"]).as_py()) == (20, 6)
    # 5 messages of December have no Date (and 34 of November)
    assert load_info(read_mbox(dec)).notes["date_from_envelope"] == 5
    # a thread started in November whose back-and-forth goes on in December: its run
    # from the root is 1 with November alone, 5 with both months.  (The README says 6;
    # the 6-turn runs from a root of the two months read together are both in
    # December threads, as with December alone.)
    def from_root(paths: list[Path]) -> dict[str, int]:
        one = _one_per_record(read_mbox(paths))
        mids = one["event_id"].to_pylist()
        pos = {m: i for i, m in enumerate(mids)}
        parent = [pos.get(q, -1) if q is not None else -1 for q in one["parent"].to_pylist()]
        run = _alternating_runs(parent, [hash(a) for a in one["actor"].to_pylist()])
        best: dict[str, int] = {}
        for i, r in enumerate(run):
            if r == _depth(parent, i) + 1:
                j = i
                while parent[j] >= 0:
                    j = parent[j]
                best[mids[j]] = max(best.get(mids[j], 0), r)
        return best

    alone, together = from_root([nov]), from_root([nov, dec])
    grown = {k: (alone[k], together[k]) for k in alone if together[k] != alone[k]}
    assert grown == {"CA+nPnMw0sWg1oJP9P5TnrqbgpQScWeA0m8Zi2Sa8MCb01ge9Ww@mail.gmail.com": (1, 5)}
    assert max(alone.values()) == 5 and max(together.values()) == 6


def test_apache_dmarc_addresses() -> None:
    """README: 6 From addresses rewritten to ...invalid by the list server, kept as they are."""
    h = _one_per_record(read_mbox(data_path("apache-mbox", "httpd-users-2020-07.mbox")))
    assert len({a for a in h["actor"].to_pylist() if a.endswith(".invalid")}) == 6


def test_maildir_lenient_and_locations(tmp_path: Path) -> None:
    d = tmp_path / "Mail"
    mb = mailbox.Maildir(d)
    mb.add(_msg("ann@x.org", "bob@x.org", "a1@x", "Mon, 1 Jan 2024 10:00:00 +0000").encode())
    sent = mb.add_folder("Sent")
    key = sent.add(_msg("bob@x.org", "ann@x.org", "b1@x", None).encode())
    mb.add(_msg("", "ann@x.org", "c1@x", "Mon, 1 Jan 2024 12:00:00 +0000").encode())
    with pytest.raises(FormatError) as ei:
        read_maildir(d, date_fallback=False)
    assert ei.value.path == str(d) and ei.value.reason in ("no_date", "no_from")
    with pytest.raises(FormatError, match=rf"message Sent/{key}: message with no Date"):
        read_maildir(_only(d, "Sent"), date_fallback=False)
    t = read_maildir(d, date_fallback=False, strict=False)
    info = load_info(t)
    assert t["event_id"].to_pylist() == ["a1@x"]
    assert info.set_aside == {"no_date": 1, "no_from": 1} and info.records == 3
    assert any(f"Sent/{key}" in e for e in info.examples)


def _only(d: Path, folder: str) -> Path:
    """A copy of one Maildir++ sub-folder's parent holding just that folder."""
    import shutil

    out = d.parent / f"only-{folder}"
    mb = mailbox.Maildir(out)
    shutil.rmtree(out / f".{folder}", ignore_errors=True)
    shutil.copytree(d / f".{folder}", out / f".{folder}")
    assert mb.list_folders() == [folder]
    return out


def test_bench_mbox_generator_is_a_valid_mbox(tmp_path: Path) -> None:
    """benchmarks/bench_mbox.py writes what the stdlib reads as the same messages."""
    import sys

    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks.bench_mbox import _Generator, parse_size

    assert parse_size("250MB") == 250_000_000 and parse_size("1GiB") == 2**30
    p = tmp_path / "gen.mbox"
    made = _Generator(seed=1).write(p, 400_000)
    assert len(mailbox.mbox(p)) == made["messages"]
    t = read_mbox(p)
    info = load_info(t)
    assert info.records == made["messages"] and info.set_aside == {}
    assert info.notes.get("date_from_envelope", 0) == made["no_date"]
    ev = eq.read_events(t, **READ_OPTIONS)
    assert ev.tree is not None and int(ev.tree.depth.max()) >= 3
