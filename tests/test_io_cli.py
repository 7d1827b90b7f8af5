"""``engagequal analyze --from FORMAT PATH``."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import data_path
from engagequal.cli import main
from engagequal.io import FORMATS


def test_analyze_from_mbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = data_path("apache-mbox", "httpd-users-2020-07.mbox")
    out = tmp_path / "rep"
    assert main(["analyze", "--from", "mbox", str(box), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "41 threads" in text and "114 rows in" in text
    users = pq.read_table(out / "users.parquet")
    assert "wendellhatcher1074@gmail.com" in users["user"].to_pylist()


def test_analyze_from_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"\n')
    assert main(["analyze", "--from", "reddit", str(bad), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl: line 1" in err
    assert main(["analyze", "--from", "convokit", "-o", str(tmp_path / "o")]) == 2
    # every loader is reachable from the command line
    parser_choices = {"mbox", "maildir", "twitter", "linkedin", "instagram", "facebook",
                      "mastodon", "reddit", "convokit"}
    assert parser_choices == set(FORMATS)


def _twitter_zip(path: Path, cut: bool = False) -> Path:
    import zipfile

    from test_io_twitter import MANY

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in MANY.items():
            zf.writestr(name, text)
    if cut:
        data = path.read_bytes()
        start = data.index(b"data/tweets.js")
        path.write_bytes(data[: (start + len(data)) // 2])
    return path


def test_analyze_opens_on_the_archive_owner(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The archive names its owner (account.js): the report's ego view is the owner's."""
    z = _twitter_zip(tmp_path / "twitter-2024.zip")
    assert main(["analyze", "--from", "twitter", str(z), "-o", str(tmp_path / "rep"),
                 "--no-html", "--no-progress"]) == 0
    cap = capsys.readouterr()
    assert "archive owner: 100" in cap.err
    assert "<engagequal.Ego '100':" in cap.out


def test_analyze_lenient_reads_a_cut_archive(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    z = _twitter_zip(tmp_path / "cut.zip", cut=True)
    assert main(["analyze", "--from", "twitter", str(z), "-o", str(tmp_path / "a"),
                 "--no-html", "--no-progress"]) == 2
    assert "cut.zip: archive: truncated" in capsys.readouterr().err
    assert main(["analyze", "--from", "twitter", str(z), "-o", str(tmp_path / "b"),
                 "--no-html", "--no-progress", "--lenient"]) == 0
    cap = capsys.readouterr()
    assert "archive owner: 100" in cap.err and "<engagequal.Ego '100':" in cap.out


def test_owner_option_opens_the_ego_view(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    box = data_path("apache-mbox", "httpd-users-2020-07.mbox")
    out = tmp_path / "rep"
    assert main(["analyze", "--from", "mbox", str(box), "-o", str(out),
                 "--owner", "covener@gmail.com"]) == 0
    captured = capsys.readouterr()
    assert "mbox: 108 records read, 114 rows" in captured.err
    assert "<engagequal.Ego 'covener@gmail.com'" in captured.out
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "circles of user &#x27;covener@gmail.com&#x27;" in html
    # an id that is not among the users is a note, not a failure
    assert main(["analyze", "--from", "mbox", str(box), "-o", str(out), "--overwrite",
                 "--owner", "nobody@example.org"]) == 0
    assert "is not among the users" in capsys.readouterr().err
