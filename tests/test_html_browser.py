"""The HTML report: self-contained, and rendered by headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import engagequal as eq
from engagequal.errors import OptionError
from engagequal.report import Report
from engagequal.synth import population

TREE = {"event_id": "event_id", "parent": "parent", "thread": "thread"}


@pytest.fixture(scope="module")
def html_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("matplotlib")
    t, _ = population(300, 9_000, seed=11)
    r = eq.analyze(t, layer_method="rank", progress=False, **TREE)
    return r.to_html(tmp_path_factory.mktemp("html") / "report.html")


def test_self_contained(html_file: Path) -> None:
    text = html_file.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # no network: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", text)
    assert "<script" not in text and "@import" not in text and "url(" not in text
    assert text.count("data:image/png;base64,") >= 5
    for heading in ("Figures", "Top users by quality score", "Strongest ties",
                    "Deepest threads", "Summary"):
        assert heading in text


def test_refuses_overwrite_when_asked(html_file: Path) -> None:
    with pytest.raises(OptionError, match="exists"):
        Report().to_html(html_file, overwrite=False)


def test_empty_report_renders() -> None:
    from engagequal.html import render_html

    text = render_html(Report())
    assert "<h1>" in text and "</html>" in text


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    pytest.skip("headless Chromium is not installed (Debian package `chromium`)")
    raise AssertionError  # unreachable


@pytest.mark.browser
def test_renders_in_headless_chromium(html_file: Path, tmp_path: Path) -> None:
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    exe = _chromium()
    shot = tmp_path / "shot.png"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--enable-logging=stderr", "--v=0", "--window-size=1280,1600",
           f"--screenshot={shot}", html_file.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    # console messages of the page are logged as "CONSOLE(...)" / ":CONSOLE"
    console = [ln for ln in res.stderr.splitlines() if "CONSOLE" in ln]
    assert console == [], console
    img = plt.imread(shot)[..., :3]
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    dark = (img.min(axis=2) < 0.6).mean()
    assert 0.005 < dark < 0.6, dark  # text and figures, not blank, not all black
    assert img.std() > 0.05


@pytest.mark.browser
def test_console_check_catches_an_error(tmp_path: Path) -> None:
    """Control: the console check above does see a page's console errors."""
    exe = _chromium()
    page = tmp_path / "bad.html"
    page.write_text("<html><body>x<script>console.error('boom-7')</script></body></html>")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--enable-logging=stderr", "--v=0", f"--screenshot={tmp_path / 's.png'}",
           page.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert any("CONSOLE" in ln and "boom-7" in ln for ln in res.stderr.splitlines())
