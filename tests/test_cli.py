"""The command line, in-process (main(argv) -> int) and as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engagequal.cli import main
from engagequal.synth import simple_events


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    p = tmp_path / "events.parquet"
    t = simple_events(120, 3_000, seed=4).rename_columns(["src", "dst", "time", "kind"])
    pq.write_table(t, p)
    return p


def _map() -> list[str]:
    return ["--actor", "src", "--target", "dst", "--ts", "time"]


def test_analyze_in_process(events_file: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc = main(["analyze", str(events_file), "-o", str(out), "--layer-method", "rank",
               "--no-progress", *_map()])
    assert rc == 0
    text = capsys.readouterr().out
    assert "top users by quality score" in text and "HTML report written" in text
    users = pq.read_table(out / "users.parquet")
    assert users.num_rows == 120 and "score" in users.column_names
    # the top users are printed as values (plain text, no pandas needed), best first
    lines = text.split("top users by quality score:\n", 1)[1].splitlines()
    assert lines[0].split()[:2] == ["user", "score"]
    best = users.sort_by([("score", "descending")]).column("score")[0].as_py()
    assert lines[1].split()[1] == f"{best:,.3f}"
    assert (out / "report.html").stat().st_size > 10_000
    for name in ("dyads", "threads", "layers", "summary", "dropped", "layers_tie"):
        assert (out / f"{name}.parquet").exists(), name


def test_refuses_to_overwrite(events_file: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["analyze", str(events_file), "-o", str(out), "--metrics", "reciprocity",
            "--no-html", *_map()]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and err.count("\n") == 1
    assert not (out / "users.parquet").exists()
    assert main([*args, "--overwrite"]) == 0
    assert (out / "users.parquet").exists() and not (out / "report.html").exists()


def test_typed_errors_are_one_line(events_file: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    # a missing column
    rc = main(["analyze", str(events_file), "-o", str(tmp_path / "a"), "--actor", "nope",
               "--target", "dst", "--ts", "time"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("engagequal: error:") and err.count("\n") == 1
    assert "nope" in err and "Traceback" not in err
    # a bad metric name
    rc = main(["analyze", str(events_file), "-o", str(tmp_path / "b"), "--metrics", "fame",
               *_map()])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown metrics" in err
    # a file that does not exist
    rc = main(["analyze", str(tmp_path / "missing.parquet"), "-o", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1


def test_lenient_counts_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"actor": [1, 2, 3, 1], "target": [2, None, 1, 3],
                             "ts": [0, 1, 2, 3]}), p)
    assert main(["analyze", str(p), "-o", str(tmp_path / "x"), "--no-html"]) == 2
    assert "null" in capsys.readouterr().err
    assert main(["analyze", str(p), "-o", str(tmp_path / "y"), "--no-html", "--lenient",
                 "--layer-method", "rank"]) == 0
    dropped = pq.read_table(tmp_path / "y" / "dropped.parquet").to_pylist()
    assert {"reason": "null_target", "rows": 1, "action": "set_aside"} in dropped


def test_report_command_rebuilds_the_html(events_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["analyze", str(events_file), "-o", str(out), "--no-html",
                 "--layer-method", "rank", *_map()]) == 0
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Top users by quality score" in html
    assert main(["report", str(out)]) == 2  # exists
    assert main(["report", str(out), "--overwrite"]) == 0
    assert main(["report", str(tmp_path / "nowhere")]) == 2


def test_window_option(events_file: Path, tmp_path: Path) -> None:
    t = pq.read_table(events_file)
    t0 = int(t.column("time").to_numpy().min())
    out = tmp_path / "w"
    assert main(["analyze", str(events_file), "-o", str(out), "--no-html", "--metrics",
                 "reciprocity", "--window", str(t0), str(t0 + 30 * 86_400), *_map()]) == 0
    summary = pq.read_table(out / "summary.parquet").to_pylist()[0]
    assert summary["ties"] < 3_000


def test_subprocess_python_m(events_file: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    out = tmp_path / "sub"
    res = subprocess.run([sys.executable, "-m", "engagequal", "analyze", str(events_file),
                          "-o", str(out), "--layer-method", "rank", *_map()],
                         capture_output=True, text=True, env=env, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert (out / "users.parquet").exists() and (out / "report.html").exists()
    res = subprocess.run([sys.executable, "-m", "engagequal", "analyze", str(events_file),
                          "-o", str(out), *_map()],
                         capture_output=True, text=True, env=env, timeout=300, check=False)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and res.stderr.strip().count("\n") == 0
    assert "--overwrite" in res.stderr


def test_subprocess_default_sample(tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    res = subprocess.run([sys.executable, "-m", "engagequal", "analyze", "--out",
                          str(tmp_path / "eq")], capture_output=True, text=True, env=env,
                         timeout=600, check=False, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "generated sample" in res.stderr
    assert pq.read_table(tmp_path / "eq" / "threads.parquet").num_rows > 0
    assert (tmp_path / "eq" / "report.html").exists()


def test_bench_passes_every_option_to_the_suite(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["bench", "--help"]) == 0
    finally:
        os.chdir(cwd)
    assert "usage: python -m benchmarks.run" in capsys.readouterr().out


def test_bench_outside_a_checkout_is_one_clear_line(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "engagequal", "bench", "--help"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "source checkout" in r.stderr and "Traceback" not in r.stderr
