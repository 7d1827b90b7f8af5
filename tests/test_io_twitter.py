"""engagequal.io.read_twitter_archive on an archive written from the format's docs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

import engagequal as eq
from engagequal.errors import FormatError
from engagequal.io import READ_OPTIONS, load_info, owner_of, read_twitter_archive

OWNER = "100"


def _js(name: str, items: list[dict[str, object]]) -> str:
    return f"window.YTD.{name}.part0 = " + json.dumps(items, indent=2)


def _tweet(tid: str, when: str, text: str, *, reply_to: tuple[str, str] | None = None,
           mentions: tuple[tuple[str, str], ...] = (), urls: tuple[str, ...] = ()) -> dict:
    t: dict[str, object] = {
        "id_str": tid, "created_at": when, "full_text": text,
        "entities": {"user_mentions": [{"id_str": i, "screen_name": n} for i, n in mentions],
                     "urls": [{"expanded_url": u} for u in urls]},
    }
    if reply_to:
        t["in_reply_to_status_id_str"], t["in_reply_to_user_id_str"] = reply_to
    return {"tweet": t}


FILES = {
    "data/account.js": _js("account", [{"account": {"accountId": OWNER, "username": "ann"}}]),
    "data/tweets.js": _js("tweets", [
        _tweet("1", "Mon Jan 01 10:00:00 +0000 2024", "hello world"),
        _tweet("2", "Mon Jan 01 11:00:00 +0000 2024", "@bob @cy agreed",
               reply_to=("50", "200"), mentions=(("200", "bob"), ("300", "cy"))),
        _tweet("3", "Mon Jan 01 12:00:00 +0000 2024", "RT @bob: something",
               mentions=(("200", "bob"),)),
        _tweet("4", "Mon Jan 01 13:00:00 +0000 2024", "look https://t.co/x",
               urls=("https://twitter.com/Cy/status/77",)),
        _tweet("5", "Mon Jan 01 14:00:00 +0000 2024", "and more", reply_to=("2", OWNER)),
    ]),
    "data/direct-messages.js": _js("direct_messages", [{"dmConversation": {
        "conversationId": "100-200", "messages": [
            {"messageCreate": {"id": "900", "senderId": "200", "recipientId": OWNER,
                               "createdAt": "2024-01-02T09:00:00.000Z", "text": "hi"}},
            {"messageCreate": {"id": "901", "senderId": OWNER, "recipientId": "200",
                               "createdAt": "2024-01-02T09:05:00.000Z", "text": "hey"}}]}}]),
    "data/direct-messages-group.js": _js("direct_messages_group", [{"dmConversation": {
        "conversationId": "g1", "messages": [
            {"joinConversation": {"initiatingUserId": "200",
                                  "participantsSnapshot": [OWNER, "200", "300"],
                                  "createdAt": "2024-01-03T00:00:00.000Z"}},
            {"messageCreate": {"id": "950", "senderId": "300",
                               "createdAt": "2024-01-03T10:00:00.000Z", "text": "all"}}]}}]),
    "data/like.js": _js("like", [{"like": {"tweetId": "5", "fullText": "x"}}]),
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    z = tmp_path / "twitter-2024.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, text in FILES.items():
            zf.writestr(name, text)
    return z


def test_exact_events(archive: Path) -> None:
    t = read_twitter_archive(archive)
    got = [(r["actor"], r["target"], r["kind"], r["event_id"], r["parent"], r["thread"])
           for r in t.to_pylist()]
    assert got == [
        (OWNER, None, "comment", "1", None, "1"),
        (OWNER, "200", "reply", "2", "50", "2"),
        (OWNER, "300", "mention", "2 -> 300", "50", "2"),
        (OWNER, "200", "retweet", "3", None, "3"),
        (OWNER, "300", "quote", "4", None, "4"),  # @cy resolved through the mentions
        (OWNER, OWNER, "reply", "5", "2", "2"),
        # files in name order: direct-messages-group.js sorts first; a group message
        # goes to every other participant, in order of appearance
        ("300", "200", "message", "dm:950", None, "g1"),
        ("300", OWNER, "message", "dm:950 -> 100", None, "g1"),
        ("200", OWNER, "message", "dm:900", None, "100-200"),
        (OWNER, "200", "message", "dm:901", "dm:900", "100-200"),
    ]
    assert t["ts"].cast("int64").to_pylist()[0] == 1704103200000
    assert owner_of(t) == OWNER
    ev = eq.read_events(t, **READ_OPTIONS)
    assert ev.accounting.notes == {"orphan_parent": 2, "self_interaction": 1}
    assert load_info(t).records == 8


def test_folder_same_as_zip(archive: Path, tmp_path: Path) -> None:
    d = tmp_path / "unpacked"
    _write(d, FILES)
    a, b = read_twitter_archive(d), read_twitter_archive(archive)
    assert a.to_pylist() == b.to_pylist()


def test_no_chain(archive: Path) -> None:
    t = read_twitter_archive(archive, chain=False)
    parents = dict(zip(t["event_id"].to_pylist(), t["parent"].to_pylist()))
    assert parents["dm:901"] is None


def test_truncated_zip(archive: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(FormatError, match=r"cut\.zip") as ei:
        read_twitter_archive(cut)
    assert ei.value.reason == "bad_archive"


def test_broken_json_and_bad_tweet(tmp_path: Path) -> None:
    files = dict(FILES)
    files["data/tweets.js"] = FILES["data/tweets.js"].replace('"full_text": "and more"',
                                                              '"full_text": "and more",,')
    _write(tmp_path / "a", files)
    with pytest.raises(FormatError, match=r"tweets\.js: line \d+") as ei:
        read_twitter_archive(tmp_path / "a")
    assert ei.value.reason == "bad_json"
    lenient = read_twitter_archive(tmp_path / "a", strict=False)
    assert load_info(lenient).set_aside == {"bad_json": 1}
    files["data/tweets.js"] = FILES["data/tweets.js"].replace(
        "Mon Jan 01 12:00:00 +0000 2024", "yesterday")
    _write(tmp_path / "b", files)
    with pytest.raises(FormatError, match=r"item 2.*created_at"):
        read_twitter_archive(tmp_path / "b")
    t = read_twitter_archive(tmp_path / "b", strict=False)
    assert load_info(t).set_aside == {"bad_tweet": 1}
    assert "3" not in t["event_id"].to_pylist()


def test_owner_needed(tmp_path: Path) -> None:
    files = {k: v for k, v in FILES.items() if "account" not in k}
    _write(tmp_path, files)
    with pytest.raises(FormatError, match="owner"):
        read_twitter_archive(tmp_path)
    assert owner_of(read_twitter_archive(tmp_path, owner="7")) == "7"


class _Unseekable:
    """A write-only stream: zipfile then writes each member's sizes in a data
    descriptor after its data (as streaming zip writers do)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)

    def flush(self) -> None:
        pass


def _zip_bytes(files: dict[str, str], *, streamed: bool, stored: bool = False) -> bytes:
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    if streamed:
        sink = _Unseekable()
        with zipfile.ZipFile(sink, "w", compression=method) as zf:  # type: ignore[arg-type]
            for name, text in files.items():
                with zf.open(name, "w") as f:
                    f.write(text.encode())
        return bytes(sink.data)
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


# a long tweets.js, written last, so that a cut runs through it
MANY = {**{k: v for k, v in FILES.items() if k != "data/tweets.js"},
        "data/tweets.js": _js("tweets", [
            _tweet(str(1000 + i), "Mon Jan 01 10:00:00 +0000 2024", f"tweet number {i} " * 8,
                   mentions=(("200", "bob"),)) for i in range(400)])}


@pytest.mark.parametrize(("streamed", "stored"), [(False, False), (True, False), (True, True)])
def test_truncated_zip_lenient(tmp_path: Path, streamed: bool, stored: bool) -> None:
    """A cut download: strict refuses it naming the archive; lenient reads every
    member before the cut and the tweets of tweets.js up to it."""
    data = _zip_bytes(MANY, streamed=streamed, stored=stored)
    whole = tmp_path / "whole.zip"
    whole.write_bytes(data)
    full = read_twitter_archive(whole)
    n_tweets = 400
    start = data.index(b"window.YTD.tweets" if stored else b"data/tweets.js")
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: start + (len(data) - start) // 2])
    with pytest.raises(FormatError, match=r"cut\.zip: archive: truncated") as ei:
        read_twitter_archive(cut)
    assert ei.value.reason == "bad_archive" and "strict=False" in str(ei.value)
    t = read_twitter_archive(cut, strict=False)
    info = load_info(t)
    assert owner_of(t) == OWNER  # account.js came before the cut
    ids = t["event_id"].to_pylist()
    assert "dm:900" in ids and "dm:950" in ids  # the direct messages too
    kept = [i for i in ids if i.isdigit()]
    assert 0 < len(kept) < n_tweets
    assert kept == [str(1000 + i) for i in range(len(kept))]  # the tweets before the cut
    assert info.set_aside == {"bad_json": 1}  # the rest of tweets.js, counted once
    assert info.notes["truncated_archive"] == 1 and info.notes["truncated_member"] == 1
    assert any("cut.zip" in e for e in info.examples)
    # rows are those of the whole archive, less the tweets after the cut
    assert t.num_rows == full.num_rows - (n_tweets - len(kept))  # one row per tweet


def test_truncated_zip_before_any_member(tmp_path: Path, archive: Path) -> None:
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[:20])
    with pytest.raises(FormatError, match="archive"):
        read_twitter_archive(cut)
    info = load_info(read_twitter_archive(cut, strict=False))
    assert info.set_aside == {"bad_archive": 1} and info.rows == 0


def test_api_style_tweets_and_dm_reactions(tmp_path: Path) -> None:
    """Tweet objects with embedded quoted / retweeted statuses (API v1.1 style),
    a retweet whose account is not the first mention, and DM reactions."""
    files = dict(FILES)
    files["data/tweets.js"] = _js("tweets", [
        {"tweet": {"id_str": "7", "created_at": "Mon Jan 01 10:00:00 +0000 2024",
                   "full_text": "so true", "quoted_status_id_str": "66",
                   "quoted_status": {"id_str": "66", "user": {"id_str": "400"}},
                   "entities": {"user_mentions": [], "urls": []}}},
        {"tweet": {"id_str": "8", "created_at": "Mon Jan 01 11:00:00 +0000 2024",
                   "full_text": "RT @cy: hello @bob",
                   "entities": {"user_mentions": [{"id_str": "200", "screen_name": "bob"},
                                                  {"id_str": "300", "screen_name": "Cy"}]}}},
        {"tweet": {"id_str": "9", "created_at": "Mon Jan 01 12:00:00 +0000 2024",
                   "full_text": "RT @dan: old", "retweeted_status": {"user": {"id_str": "500"}},
                   "entities": {"user_mentions": []}}},
    ])
    files["data/direct-messages.js"] = _js("direct_messages", [{"dmConversation": {
        "conversationId": "100-200", "messages": [
            {"messageCreate": {"id": "900", "senderId": "200", "recipientId": OWNER,
                               "createdAt": "2024-01-02T09:00:00.000Z", "text": "hi",
                               "reactions": [{"senderId": OWNER, "reactionKey": "like",
                                              "eventId": "e1",
                                              "createdAt": "2024-01-02T09:01:00.000Z"}]}}]}}])
    _write(tmp_path, files)
    t = read_twitter_archive(tmp_path)
    rows = {r["event_id"]: (r["actor"], r["target"], r["kind"], r["thread"])
            for r in t.to_pylist()}
    assert rows["7"] == (OWNER, "400", "quote", "7")
    assert rows["8"] == (OWNER, "300", "retweet", "8")  # @cy, not the first mention
    assert rows["9"] == (OWNER, "500", "retweet", "9")
    assert rows["dm:900:reaction:e1"] == (OWNER, "200", "reaction", "100-200")
    ts = dict(zip(t["event_id"].to_pylist(), t["ts"].cast("int64").to_pylist()))
    assert ts["dm:900:reaction:e1"] - ts["dm:900"] == 60_000
