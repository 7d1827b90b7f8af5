"""User data is data (issue 10): never unpickled, evaluated or run through a shell;
the command line writes only where it is told and never overwrites unasked.

(tests/test_cli.py already checks that ``analyze`` refuses a non-empty ``-o``
folder and an existing ``report.html`` without ``--overwrite``.)
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import engagequal as eq
from engagequal.cli import main

PACKAGE = Path(eq.__file__).resolve().parent

#: modules that deserialise code or objects
FORBIDDEN_IMPORTS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal"}
#: builtins that run text as code
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
#: os functions that run a shell or replace the process
FORBIDDEN_OS = {"system", "popen", "execl", "execle", "execlp", "execv", "execve", "execvp",
                "execvpe", "spawnl", "spawnle", "spawnlp", "spawnv", "spawnve", "spawnvp",
                "spawnvpe", "startfile"}
#: methods that unpickle (numpy, pandas, yaml) or extract archive members to disk by name
FORBIDDEN_METHODS = {"read_pickle", "from_pickle", "load_pickle", "unsafe_load", "extractall"}


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30
    for f in files:
        yield f, ast.parse(f.read_text(encoding="utf-8"), filename=str(f))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _offences(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in FORBIDDEN_IMPORTS:
                    yield node.lineno, f"import {a.name}"
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
                yield node.lineno, f"from {node.module} import ..."
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            if name in FORBIDDEN_CALLS:
                yield node.lineno, f"{name}()"
            if name.startswith("os.") and last in FORBIDDEN_OS:
                yield node.lineno, f"{name}()"
            if last in FORBIDDEN_METHODS:
                yield node.lineno, f"{name}()"
            if name.startswith("subprocess.") or last in {"Popen", "run", "call",
                                                         "check_call", "check_output"}:
                shell = kw.get("shell")  # anything but a literal False may be a shell
                if shell is not None and not (isinstance(shell, ast.Constant)
                                              and shell.value is False):
                    yield node.lineno, f"{name}(shell=...)"
            if last == "load" and name.split(".")[0] in {"np", "numpy", "yaml"}:
                pickle = kw.get("allow_pickle")
                if name.split(".")[0] == "yaml" or (isinstance(pickle, ast.Constant)
                                                    and pickle.value):
                    yield node.lineno, f"{name}() that can unpickle"


def test_no_pickle_eval_exec_or_shell_in_the_package() -> None:
    found = [f"{f.relative_to(PACKAGE)}:{line}: {what}"
             for f, tree in _modules() for line, what in _offences(tree)]
    assert not found, "\n".join(found)


def test_the_scan_catches_what_it_looks_for() -> None:
    bad = ast.parse("import pickle\nfrom marshal import loads\neval(x)\nos.system(c)\n"
                    "subprocess.run(c, shell=True)\nnp.load(p, allow_pickle=True)\n"
                    "pd.read_pickle(p)\ntar.extractall(d)\nyaml.load(s)\n")
    assert [line for line, _ in _offences(bad)] == list(range(1, 10))
    fine = ast.parse("subprocess.run(['git', 'status'])\nnp.load(p)\nre.compile(r'x')\n")
    assert list(_offences(fine)) == []


# --- the command line writes only where it is told ------------------------------------------

def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding one events file; matplotlib's cache goes elsewhere."""
    box = tmp_path / "box"
    (box / "in").mkdir(parents=True)
    t = eq.synth.simple_events(40, 600, seed=2)
    pq.write_table(t, box / "in" / "events.parquet")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(box)
    return box


def test_analyze_writes_only_into_out(sandbox: Path) -> None:
    before = _snapshot(sandbox)
    assert main(["analyze", "in/events.parquet", "-o", "out", "--layer-method", "rank",
                 "--no-progress"]) == 0
    after = _snapshot(sandbox)
    new = {k for k in after if k not in before}
    assert new and all(k.startswith("out" + os.sep) for k in new), sorted(new)
    assert {k: after[k] for k in before} == before  # the input is untouched
    assert (sandbox / "out" / "report.html").exists()


def test_html_goes_exactly_where_told(sandbox: Path) -> None:
    before = _snapshot(sandbox)
    assert main(["analyze", "in/events.parquet", "-o", "out", "--html", "pages/r.html",
                 "--metrics", "reciprocity", "--no-progress"]) == 0
    new = set(_snapshot(sandbox)) - set(before)
    assert f"pages{os.sep}r.html" in new
    assert all(k.startswith("out" + os.sep) or k == f"pages{os.sep}r.html" for k in new)
    assert not (sandbox / "out" / "report.html").exists()


def test_refusals_write_nothing(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (sandbox / "taken.html").write_text("mine")
    (sandbox / "a_file").write_text("mine")
    before = _snapshot(sandbox)
    # an existing --html file, an -o that is a file
    assert main(["analyze", "in/events.parquet", "-o", "fresh", "--html", "taken.html"]) == 2
    assert main(["analyze", "in/events.parquet", "-o", "a_file", "--no-html"]) == 2
    err = capsys.readouterr().err
    assert err.count("--overwrite") == 2 and "Traceback" not in err
    assert _snapshot(sandbox) == before and not (sandbox / "fresh").exists()


def test_overwrite_replaces_the_tables_and_nothing_else(sandbox: Path) -> None:
    (sandbox / "out").mkdir()
    (sandbox / "out" / "notes.txt").write_text("mine")
    args = ["analyze", "in/events.parquet", "-o", "out", "--metrics", "reciprocity",
            "--no-html"]
    assert main(args) == 2
    assert main([*args, "--overwrite"]) == 0
    assert (sandbox / "out" / "notes.txt").read_text() == "mine"
    assert (sandbox / "out" / "users.parquet").exists()


def test_synth_refuses_to_overwrite(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = sandbox / "in" / "events.parquet"
    raw = target.read_bytes()
    assert main(["synth", "--events", "500", "--out", str(target)]) == 2
    assert "--overwrite" in capsys.readouterr().err and target.read_bytes() == raw
    assert main(["synth", "--events", "500", "--out", str(target), "--overwrite"]) == 0
    assert pq.read_metadata(target).num_rows == 500
    # a folder of parts: --overwrite leaves no stale part of the earlier, larger run
    folder = sandbox / "parts"
    folder.mkdir()
    for i in range(3):
        pq.write_table(eq.synth.simple_events(5, 10, seed=i), folder / f"part-{i:05d}.parquet")
    assert main(["synth", "--events", "500", "--out", str(folder)]) == 2
    assert main(["synth", "--events", "500", "--out", str(folder), "--overwrite"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["part-00000.parquet"]
    assert eq.read_events(folder).n_events == 500


def test_report_html_is_escaped(sandbox: Path) -> None:
    """Ids are data: a user called <script> is shown, not run."""
    ev = {"actor": ["<script>alert(1)</script>", "b&b", "<script>alert(1)</script>"],
          "target": ["b&b", "<script>alert(1)</script>", "\"'><img src=x onerror=1>"],
          "ts": [0, 60, 120], "kind": ["message", "reply", "message"]}
    report = eq.analyze(ev, layer_method="rank")
    page = report.to_html(sandbox / "r.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in report._repr_html_()
