"""Loaders for LinkedIn, Instagram/Facebook and Mastodon exports: fixtures written from
the formats' documentation, exact events, malformed files."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest

import engagequal as eq
from engagequal.errors import FormatError
from engagequal.io import (
    READ_OPTIONS,
    fix_text,
    load_info,
    owner_of,
    read_facebook_export,
    read_instagram_export,
    read_linkedin_export,
    read_mastodon_outbox,
)

ANN, BOB, CY = (f"https://www.linkedin.com/in/{n}" for n in ("ann", "bob", "cy"))


def _linkedin(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "messages.csv").write_text(
        "CONVERSATION ID,CONVERSATION TITLE,FROM,SENDER PROFILE URL,TO,RECIPIENT PROFILE URLS,"
        "DATE,SUBJECT,CONTENT,FOLDER\n"
        f"c1,,Bob,{BOB},Ann,{ANN},2024-01-01 11:00:00 UTC,,thanks,INBOX\n"
        f"c1,,Ann,{ANN},Bob,{BOB},2024-01-01 10:00:00 UTC,,hello,SENT\n"
        f'c2,,Ann,{ANN}/,"Bob, Cy","{BOB},{CY}",2024-01-02 09:00:00 UTC,,"both, of you",SENT\n')
    (root / "Connections.csv").write_text(
        "Notes:\n\"When exporting your connection data, you may notice ...\"\n\n"
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
        f"Bob,B,{BOB},,Acme,Dev,03 Mar 2023\n")
    (root / "Reactions.csv").write_text(
        "Date,Type,Link\n2024-01-03 08:00:00,LIKE,https://www.linkedin.com/feed/update/1\n")
    return root


def test_linkedin_exact(tmp_path: Path) -> None:
    t = read_linkedin_export(_linkedin(tmp_path / "li"))
    got = [(r["actor"], r["target"], r["kind"], r["event_id"], r["parent"], r["thread"])
           for r in t.to_pylist()]
    assert got == [
        (ANN, BOB, "message", "c1#3", None, "c1"),  # in time order, chained
        (BOB, ANN, "message", "c1#2", "c1#3", "c1"),
        (ANN, BOB, "message", "c2#4", None, "c2"),
        (ANN, CY, "message", "c2#4 -> " + CY, None, "c2"),
        (ANN, BOB, "connection", "connection:" + BOB, None, "connection:" + BOB),
        (ANN, None, "reaction", "reaction:2", None, "https://www.linkedin.com/feed/update/1"),
    ]
    assert owner_of(t) == ANN
    assert t["ts"].cast("int64").to_pylist()[4] == 1677801600000  # 2023-03-03
    ev = eq.read_events(t, **READ_OPTIONS)
    assert ev.n_events == 6


def test_linkedin_bad_date_and_zip(tmp_path: Path) -> None:
    root = _linkedin(tmp_path / "li")
    text = (root / "messages.csv").read_text().replace("2024-01-02 09:00:00 UTC", "soon")
    (root / "messages.csv").write_text(text)
    with pytest.raises(FormatError, match=r"messages\.csv: line 4"):
        read_linkedin_export(root)
    assert load_info(read_linkedin_export(root, strict=False)).set_aside == {"bad_row": 1}
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in root.iterdir():
            zf.write(f, f.name)
    assert read_linkedin_export(z, strict=False).num_rows == 4
    z.write_bytes(z.read_bytes()[:-40])
    with pytest.raises(FormatError, match="archive"):
        read_linkedin_export(z)


def _mojibake(s: str) -> str:
    return s.encode("utf-8").decode("latin-1")


def _meta(root: Path, instagram: bool) -> Path:
    inbox = root / ("your_instagram_activity/messages" if instagram else "messages") / "inbox"
    th = inbox / "bob_123"
    th.mkdir(parents=True)
    (th / "message_1.json").write_text(json.dumps({
        "participants": [{"name": "Bob"}, {"name": _mojibake("José")}],
        "messages": [
            {"sender_name": "Bob", "timestamp_ms": 1704103260000, "content": "ok",
             "reactions": [{"reaction": _mojibake("❤"), "actor": _mojibake("José")}]},
            {"sender_name": _mojibake("José"), "timestamp_ms": 1704103200000,
             "content": _mojibake("olá")},
        ], "title": "Bob", "thread_path": "inbox/bob_123"}))
    if instagram:
        pi = root / "personal_information" / "personal_information.json"
        pi.parent.mkdir(parents=True)
        pi.write_text(json.dumps({"profile_user": [{"string_map_data": {
            "Name": {"value": _mojibake("José")}, "Username": {"value": "jose"}}}]}))
        c = root / "your_instagram_activity" / "comments" / "post_comments_1.json"
        c.parent.mkdir(parents=True)
        c.write_text(json.dumps([{"string_map_data": {
            "Comment": {"value": "nice"}, "Media Owner": {"value": "bobby"},
            "Time": {"timestamp": 1704200000}}}]))
        lk = root / "your_instagram_activity" / "likes" / "liked_posts.json"
        lk.parent.mkdir(parents=True)
        lk.write_text(json.dumps({"likes_media_likes": [{"title": "cy", "string_list_data": [
            {"href": "https://www.instagram.com/p/x/", "value": "👍",
             "timestamp": 1704300000}]}]}))
    else:
        pi = root / "profile_information" / "profile_information.json"
        pi.parent.mkdir(parents=True)
        pi.write_text(json.dumps({"profile_v2": {"name": {"full_name": _mojibake("José")}}}))
        c = root / "comments_and_reactions" / "comments.json"
        c.parent.mkdir(parents=True)
        c.write_text(json.dumps({"comments_v2": [{"timestamp": 1704200000, "data": [
            {"comment": {"timestamp": 1704200000, "comment": "nice", "author": "José"}}],
            "title": _mojibake("José") + " commented on Bob's post."}]}))
        lk = root / "comments_and_reactions" / "likes_and_reactions_1.json"
        lk.write_text(json.dumps([{"timestamp": 1704300000, "data": [
            {"reaction": {"reaction": "LIKE", "actor": _mojibake("José")}}],
            "title": _mojibake("José") + " reacted to " + _mojibake("Zoë") + "'s photo."}]))
    return root


def test_instagram_exact(tmp_path: Path) -> None:
    t = read_instagram_export(_meta(tmp_path / "ig", True))
    got = [(r["actor"], r["target"], r["kind"], r["event_id"], r["parent"], r["thread"])
           for r in t.to_pylist()]
    assert got == [
        ("José", "Bob", "message", "inbox/bob_123#0", None, "inbox/bob_123"),
        ("Bob", "José", "message", "inbox/bob_123#1", "inbox/bob_123#0", "inbox/bob_123"),
        ("José", "Bob", "reaction", "inbox/bob_123#1:reaction:José", None, "inbox/bob_123"),
        ("José", "bobby", "comment", "comment:1", None, "comment:1"),
        ("José", "cy", "like", "like:2", None, "like:2"),
    ]
    assert owner_of(t) == "José"
    assert t["ts"].cast("int64").to_pylist()[3] == 1704200000000
    eq.read_events(t, **READ_OPTIONS)


def test_facebook_exact_and_broken_json(tmp_path: Path) -> None:
    root = _meta(tmp_path / "fb", False)
    t = read_facebook_export(root)
    got = [(r["actor"], r["target"], r["kind"], r["event_id"], r["parent"], r["thread"])
           for r in t.to_pylist()]
    assert got == [
        ("José", "Bob", "message", "inbox/bob_123#0", None, "inbox/bob_123"),
        ("Bob", "José", "message", "inbox/bob_123#1", "inbox/bob_123#0", "inbox/bob_123"),
        ("José", "Bob", "reaction", "inbox/bob_123#1:reaction:José", None, "inbox/bob_123"),
        ("José", "Bob", "comment", "comment:1", None, "comment:1"),  # target from the title
        ("José", "Zoë", "like", "like:2", None, "like:2"),  # mojibake repaired in the title
    ]
    assert t["ts"].cast("int64").to_pylist() == [1704103200000, 1704103260000, 1704103260000,
                                                 1704200000000, 1704300000000]
    assert owner_of(t) == "José"
    f = root / "messages" / "inbox" / "bob_123" / "message_1.json"
    f.write_text(f.read_text()[:-30])
    with pytest.raises(FormatError, match=r"message_1\.json: line 1"):
        read_facebook_export(root)
    info = load_info(read_facebook_export(root, strict=False))
    assert info.set_aside == {"bad_json": 1}


def test_fix_text() -> None:
    assert fix_text(_mojibake("Zoë ❤ 漢字")) == "Zoë ❤ 漢字"
    assert fix_text("plain ascii") == "plain ascii"
    assert fix_text("already ok: ❤") == "already ok: ❤"


M = "https://m.example/users/ann"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _note(n: int, **kw: object) -> dict[str, object]:
    note: dict[str, object] = {"id": f"{M}/statuses/{n}", "type": "Note", "to": [PUBLIC],
                               "cc": [f"{M}/followers"], "tag": [],
                               "conversation": f"tag:m.example,2024:objectId={n}"}
    note.update(kw)
    return {"id": f"{M}/statuses/{n}/activity", "type": "Create", "actor": M,
            "published": f"2024-01-0{n}T10:00:00Z", "to": [PUBLIC], "object": note}


def _outbox(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    bob = "https://o.example/users/bob"
    cy = "https://o.example/users/cy"
    items = [
        _note(1),
        _note(2, inReplyTo="https://o.example/users/bob/statuses/9",
              tag=[{"type": "Mention", "href": bob, "name": "@bob@o.example"},
                   {"type": "Mention", "href": cy, "name": "@cy@o.example"}],
              conversation="conv-b"),
        _note(3, to=[bob], cc=[], tag=[{"type": "Mention", "href": bob}]),
        {"id": f"{M}/statuses/4/activity", "type": "Announce", "actor": M,
         "published": "2024-01-04T10:00:00Z", "to": [PUBLIC],
         "object": "https://o.example/@cy/55"},
        {"id": f"{M}#follows/1", "type": "Follow", "actor": M, "object": bob},
    ]
    (root / "outbox.json").write_text(json.dumps(
        {"@context": "https://www.w3.org/ns/activitystreams", "id": "outbox.json",
         "type": "OrderedCollection", "totalItems": len(items), "orderedItems": items}))
    (root / "actor.json").write_text(json.dumps({"id": M, "type": "Person",
                                                 "preferredUsername": "ann"}))
    return root


def test_mastodon_exact(tmp_path: Path) -> None:
    root = _outbox(tmp_path / "archive")
    t = read_mastodon_outbox(root)
    bob, cy = "https://o.example/users/bob", "https://o.example/users/cy"
    got = [(r["target"], r["kind"], r["event_id"], r["parent"], r["thread"])
           for r in t.to_pylist()]
    assert got == [
        (None, "comment", f"{M}/statuses/1", None, "tag:m.example,2024:objectId=1"),
        (bob, "reply", f"{M}/statuses/2", "https://o.example/users/bob/statuses/9", "conv-b"),
        (cy, "mention", f"{M}/statuses/2 -> {cy}", "https://o.example/users/bob/statuses/9",
         "conv-b"),
        (bob, "message", f"{M}/statuses/3", None, "tag:m.example,2024:objectId=3"),
        (cy, "share", f"{M}/statuses/4/activity", None, f"{M}/statuses/4/activity"),
    ]
    assert set(t["actor"].to_pylist()) == {M}
    assert owner_of(t) == M
    assert load_info(t).notes == {"other_activity": 1}
    eq.read_events(t, **READ_OPTIONS)
    tgz = tmp_path / "archive.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(root / "outbox.json", "outbox.json")
        tf.add(root / "actor.json", "actor.json")
    assert read_mastodon_outbox(tgz).to_pylist() == t.to_pylist()
    assert read_mastodon_outbox(root / "outbox.json").num_rows == t.num_rows


def test_mastodon_malformed(tmp_path: Path) -> None:
    root = _outbox(tmp_path / "a")
    doc = json.loads((root / "outbox.json").read_text())
    del doc["orderedItems"][1]["published"]
    (root / "outbox.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"orderedItems\[1\].*published"):
        read_mastodon_outbox(root)
    assert load_info(read_mastodon_outbox(root, strict=False)).set_aside == {"no_published": 1}
    (root / "outbox.json").write_text('{"orderedItems": [\n{"type": "Create",}\n]}')
    with pytest.raises(FormatError, match=r"outbox\.json: line 2"):
        read_mastodon_outbox(root)


def test_linkedin_comments_and_truncated_zip(tmp_path: Path) -> None:
    root = _linkedin(tmp_path / "li")
    (root / "Comments.csv").write_text(
        "Date,Link,Message\n"
        '2024-01-04 12:00:00,https://www.linkedin.com/feed/update/2,"Great, thanks"\n'
        "not a date,https://www.linkedin.com/feed/update/3,x\n")
    with pytest.raises(FormatError, match=r"Comments\.csv: line 3"):
        read_linkedin_export(root)
    t = read_linkedin_export(root, strict=False)
    c = [r for r in t.to_pylist() if r["kind"] == "comment"]
    assert [(r["actor"], r["target"], r["event_id"], r["thread"]) for r in c] == [
        (ANN, None, "comment:2", "https://www.linkedin.com/feed/update/2")]
    assert load_info(t).set_aside == {"bad_row": 1}
    # a cut export: the members before the cut are read, the one it runs through
    # up to the cut (its broken last row set aside like any bad row)
    z = tmp_path / "Basic_LinkedInDataExport.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Connections.csv", (root / "Connections.csv").read_text())
        zf.writestr("messages.csv", (root / "messages.csv").read_text() + "".join(
            f"c{i},,Bob,{BOB},Ann,{ANN},2024-02-01 10:{i % 60:02d}:00 UTC,,msg {i},INBOX\n"
            for i in range(300)))
    data = z.read_bytes()
    z.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(FormatError, match="archive"):
        read_linkedin_export(z)
    t = read_linkedin_export(z, strict=False)
    info = load_info(t)
    kinds = t["kind"].to_pylist()
    assert kinds.count("connection") == 1
    assert 3 < kinds.count("message") < 3 + 1 + 300
    assert info.notes["truncated_archive"] == 1 and info.notes["truncated_member"] == 1


def test_meta_message_without_time_and_cut_zip(tmp_path: Path) -> None:
    root = _meta(tmp_path / "fb", False)
    f = root / "messages" / "inbox" / "bob_123" / "message_1.json"
    doc = json.loads(f.read_text())
    del doc["messages"][1]["timestamp_ms"]
    f.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"message_1\.json: messages\[1\]") as ei:
        read_facebook_export(root)
    assert ei.value.reason == "bad_message"
    t = read_facebook_export(root, strict=False)
    assert load_info(t).set_aside == {"bad_message": 1}
    assert [r["kind"] for r in t.to_pylist()] == ["message", "reaction", "comment", "like"]
    # the export as a zip cut short: the profile and the first thread read, the
    # second thread (cut) set aside as broken JSON
    root = _meta(tmp_path / "ig", True)
    th2 = root / "your_instagram_activity" / "messages" / "inbox" / "zed_9" / "message_1.json"
    th2.parent.mkdir(parents=True)
    th2.write_text(json.dumps({"participants": [{"name": "Zed"}], "messages": [
        {"sender_name": "Zed", "timestamp_ms": 1704103200000 + i, "content": f"m{i}"}
        for i in range(200)]}))
    z = tmp_path / "instagram-jose.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*.json"), key=lambda p: p == th2):  # the long one last
            zf.write(p, p.relative_to(root).as_posix())
    data = z.read_bytes()
    start, central = data.index(b"zed_9/message_1.json"), data.index(b"PK\x01\x02")
    z.write_bytes(data[: (start + central) // 2])  # through the long thread's data
    t = read_instagram_export(z, strict=False)
    info = load_info(t)
    assert owner_of(t) == "José"
    assert {r["thread"] for r in t.to_pylist() if r["kind"] == "message"} == {"inbox/bob_123"}
    assert info.set_aside == {"bad_json": 1}
    assert info.notes == {"truncated_archive": 1, "truncated_member": 1}


def test_mastodon_lenient_broken_json_owner_and_cut_archive(tmp_path: Path) -> None:
    root = _outbox(tmp_path / "a")
    assert owner_of(read_mastodon_outbox(root, owner="https://m.example/users/other")) == \
        "https://m.example/users/other"
    good = (root / "outbox.json").read_text()
    (root / "outbox.json").write_text(good[:-10])
    with pytest.raises(FormatError, match=r"outbox\.json: line 1"):
        read_mastodon_outbox(root)
    t = read_mastodon_outbox(root, strict=False)
    assert t.num_rows == 0 and load_info(t).set_aside == {"bad_json": 1}
    assert owner_of(t) == M  # actor.json is still read
    (root / "outbox.json").write_text(good)
    tgz = tmp_path / "archive-20240101.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(root / "actor.json", "actor.json")
        tf.add(root / "outbox.json", "outbox.json")
    data = tgz.read_bytes()
    tgz.write_bytes(data[: len(data) - 200])
    with pytest.raises(FormatError, match=r"archive-20240101\.tar\.gz"):
        read_mastodon_outbox(tgz)
    t = read_mastodon_outbox(tgz, strict=False)
    info = load_info(t)
    assert owner_of(t) == M
    assert info.notes["truncated_archive"] == 1
    assert t.num_rows < 5 and sum(info.set_aside.values()) >= 1


def test_every_kind_has_a_weight(tmp_path: Path) -> None:
    """The kinds the loaders give are kinds read_events knows (docs/loaders.md table)."""
    from engagequal.ingest import DEFAULT_KIND_WEIGHTS

    tables = [read_linkedin_export(_linkedin(tmp_path / "li")),
              read_instagram_export(_meta(tmp_path / "ig", True)),
              read_facebook_export(_meta(tmp_path / "fb", False)),
              read_mastodon_outbox(_outbox(tmp_path / "m"))]
    kinds = {k for t in tables for k in t["kind"].to_pylist()}
    assert kinds == {"message", "connection", "reaction", "comment", "like", "reply",
                     "mention", "share"}
    assert kinds <= set(DEFAULT_KIND_WEIGHTS)
