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
