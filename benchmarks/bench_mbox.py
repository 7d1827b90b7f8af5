"""mbox loading speed and memory: ``engagequal.io.read_mbox`` on a generated archive.

Usage::

    python -m benchmarks.bench_mbox --size 1GB
    python -m benchmarks.bench_mbox --size 250MB,1GB      # memory against file size

For each size, writes a seeded synthetic mbox of (at least) that many bytes in
a temporary folder, then times ``read_mbox`` on it in a fresh subprocess
(single-threaded Python: one core) and prints MB/s (10^6 bytes per second of
wall time, and per second of the child's CPU time, which a busy machine
disturbs less), messages, rows and the peak resident memory of the read: the
child's ``VmHWM`` (``/proc/self/status``) after the read minus its ``VmHWM``
after the imports.  The file is deleted afterwards unless ``--keep``.

The archive looks like a real mailing-list / personal mailbox: an envelope
``From `` line; ``Return-Path``, three to seven folded ``Received`` headers, a
folded ``DKIM-Signature``, spam and list headers; ``From`` / ``To`` / ``Cc``
with display names, some RFC 2047-encoded (``=?utf-8?b?...?=``), as are some
subjects; ``Message-ID``, and for about 60 % of the messages a reply to a recent
message of the same thread (``In-Reply-To`` and a ``References`` chain of up
to 12 ids; 5 % give ``References`` only); 1 % have no ``Date`` (the envelope
time is used).  Bodies are MIME ``multipart/alternative`` (text and HTML, a
few KB, quoted-printable) and every sixth message is ``multipart/mixed`` with a
base64 attachment; body lines starting with ``From `` are mboxrd-escaped
(``>From ``).
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20,
          "GIB": 2**30}

_WORDS = ("the", "and", "of", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be",
          "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but",
          "have", "an", "they", "you", "were", "her", "she", "there", "been", "one", "all",
          "we", "their", "has", "would", "when", "if", "so", "no", "will", "can", "more",
          "about", "said", "up", "out", "what", "its", "into", "them", "some", "than", "only",
          "other", "new", "build", "release", "plugin", "version", "test", "repository",
          "commit", "branch", "merge", "issue", "patch", "review", "server", "config",
          "module", "request", "response", "thanks", "regards", "please", "think", "should",
          "could", "maybe", "works", "fails", "error", "warning", "dependency", "upgrade",
          "java", "python", "maven", "apache", "httpd", "proxy", "header", "cache", "ssl",
          "certificate", "mirror", "vote", "binding", "staging", "artifact")


def parse_size(text: str) -> int:
    """``"1GB"`` -> 10**9 bytes (KB/MB/GB decimal, KiB/MiB/GiB binary)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).upper() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 250MB, 1GB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def _text_block(rng: random.Random, n_chars: int) -> str:
    """Wrapped prose (72 columns), with quoted lines, signatures and escaped ``>From``."""
    lines: list[str] = []
    size = 0
    while size < n_chars:
        k = rng.randint(6, 13)
        line = " ".join(rng.choice(_WORDS) for _ in range(k))
        r = rng.random()
        if r < 0.15:
            line = "> " + line
        elif r < 0.155:
            line = ">From " + line  # a body line "From ..." as mboxrd writes it
        elif r < 0.16:
            line = "From-" + line  # not an envelope: no space after From
        elif r < 0.19:
            line = ""
        lines.append(line[:76])
        size += len(lines[-1]) + 1
    return "\n".join(lines) + "\n"


class _Generator:
    """Seeded messages; :meth:`write` fills a file up to a size."""

    def __init__(self, seed: int, users: int = 3000) -> None:
        self.rng = rng = random.Random(seed)
        self.text = _text_block(rng, 400_000)
        self.b64 = base64.encodebytes(rng.randbytes(300_000)).decode("ascii")
        first = ["Ann", "Bob", "Carol", "Dan", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
                 "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor"]
        last = ["Smith", "Jones", "Müller", "García", "Dubois", "Rossi", "Novák", "Søren",
                "Kowalski", "Silva", "Nakamura", "O'Brien", "Lefèvre", "Andersson"]
        domains = ["example.org", "example.com", "mail.example.net", "corp.example",
                   "apache.example", "univ.example.edu", "gmail.example", "yahoo.example"]
        self.people: list[tuple[str, str]] = []
        for i in range(users):
            name = f"{rng.choice(first)} {rng.choice(last)}"
            addr = f"{name.split()[0].lower()}.{i}@{rng.choice(domains)}"
            r = rng.random()
            if r < 0.1:  # RFC 2047, base64
                enc = base64.b64encode(name.encode()).decode()
                shown = f"=?utf-8?b?{enc}?= <{addr}>"
            elif r < 0.2:
                shown = f'"{name.split()[1]}, {name.split()[0]}" <{addr}>'
            elif r < 0.3:
                shown = addr
            else:
                shown = f"{name} <{addr.capitalize()}>"
            self.people.append((addr, shown))
        self.lists = ["dev@lists.example.org", "users@lists.example.org"]
        self.zones = [_dt.timezone(_dt.timedelta(hours=h)) for h in (-8, -5, 0, 1, 2, 5.5, 9)]
        self.recent: list[tuple[str, str, str]] = []  # (message id, references, subject)
        self.ts = 1_500_000_000.0
        self.n = 0
        self.no_date = 0

    def _slice(self, src: str, n: int) -> str:
        i = self.rng.randrange(0, len(src) - n - 100)
        i = src.index("\n", i) + 1
        j = src.index("\n", i + n) + 1
        return src[i:j]

    def message(self) -> str:
        rng = self.rng
        self.n += 1
        self.ts += rng.expovariate(1 / 90.0)
        when = _dt.datetime.fromtimestamp(self.ts, rng.choice(self.zones))
        addr, shown = self.people[int(rng.paretovariate(1.2)) % len(self.people)]
        mid = f"{self.n:x}.{rng.getrandbits(48):012x}@{addr.split('@')[1]}"
        on_list = rng.random() < 0.7
        parent = None
        if self.recent and rng.random() < 0.6:
            parent = self.recent[-1 - min(int(rng.expovariate(1 / 30.0)), len(self.recent) - 1)]
        if on_list:
            lst = self.lists[self.n % 2]
            to = lst
        else:
            to = ", ".join(self.people[rng.randrange(len(self.people))][1]
                           for _ in range(rng.randint(1, 3)))
        subject_words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 9)))
        if parent is not None:
            subject = "Re: " + parent[2]
        elif rng.random() < 0.08:
            subject = "=?utf-8?q?" + subject_words.replace(" ", "_") + "_=C3=A9t=C3=A9?="
        else:
            subject = subject_words
        env_date = time.asctime(time.gmtime(self.ts))
        h = [f"From {addr} {env_date}", f"Return-Path: <{addr}>"]
        for k in range(rng.randint(3, 7)):
            hop = when + _dt.timedelta(seconds=k)
            h.append(f"Received: from mail{k}.relay{rng.randrange(90)}.example.net "
                     f"(mail{k}.relay.example.net [10.{rng.randrange(255)}.{rng.randrange(255)}."
                     f"{rng.randrange(255)}])\n\tby mx{k}.example.org (Postfix) with ESMTPS id "
                     f"{rng.getrandbits(40):010X}\n\tfor <{addr}>; "
                     f"{hop.strftime('%a, %d %b %Y %H:%M:%S %z')}")
        h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;\n"
                 "\th=from:to:subject:date:message-id; bh="
                 + base64.b64encode(rng.randbytes(32)).decode() + ";\n\tb="
                 + self.b64[:76].strip() + "\n\t " + self.b64[77:153].strip())
        h.append(f"X-Spam-Status: No, score=-{rng.randrange(10)}.{rng.randrange(10)} "
                 "required=5.0 tests=BAYES_00,DKIM_SIGNED,DKIM_VALID")
        h.append(f"From: {shown}")
        h.append(f"To: {to}")
        if rng.random() < 0.15:
            h.append("Cc: " + self.people[rng.randrange(len(self.people))][1])
        h.append(f"Subject: {subject}")
        if rng.random() < 0.01:
            self.no_date += 1
        else:
            h.append("Date: " + when.strftime("%a, %d %b %Y %H:%M:%S %z"))
        h.append(f"Message-ID: <{mid}>")
        refs = ""
        if parent is not None:
            pid, prefs, _ = parent
            refs = " ".join([*prefs.split()[-11:], f"<{pid}>"])
            if rng.random() < 0.95:
                h.append(f"In-Reply-To: <{pid}>")
            h.append("References: " + refs.replace(" ", "\n "))
        if on_list:
            h.append(f"List-Id: <{to.replace('@', '.')}>")
            h.append(f"List-Post: <mailto:{to}>")
            h.append(f"List-Unsubscribe: <mailto:{to.replace('@', '-unsubscribe@')}>")
        h.append("MIME-Version: 1.0")
        boundary = f"=_{rng.getrandbits(64):016x}"
        text = self._slice(self.text, int(rng.lognormvariate(7.3, 0.6)) + 200)
        alt = (f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
               f"Content-Transfer-Encoding: quoted-printable\n\n{text}\n"
               f"--{boundary}\nContent-Type: text/html; charset=utf-8\n"
               f"Content-Transfer-Encoding: quoted-printable\n\n<html><body><p>"
               + text.replace("\n\n", "</p>\n<p>") + f"</p></body></html>\n--{boundary}--\n")
        if self.n % 6 == 0:
            outer = f"=_m{rng.getrandbits(64):016x}"
            h.append(f'Content-Type: multipart/mixed; boundary="{outer}"')
            att = self._slice(self.b64, rng.randint(1500, 6000))
            body = (f"This is a multi-part message in MIME format.\n\n--{outer}\n"
                    f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n{alt}\n'
                    f"--{outer}\nContent-Type: application/octet-stream; name=\"log.gz\"\n"
                    "Content-Transfer-Encoding: base64\n"
                    f"Content-Disposition: attachment; filename=\"log.gz\"\n\n{att}--{outer}--\n")
        else:
            h.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
            body = alt
        self.recent.append((mid, refs, subject if parent is None else parent[2]))
        if len(self.recent) > 4000:
            del self.recent[:2000]
        return "\n".join(h) + "\n\n" + body + "\n"

    def write(self, path: Path, size: int) -> dict[str, int]:
        written = 0
        with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            while written < size:
                chunk = "".join(self.message() for _ in range(200))
                f.write(chunk)
                written += len(chunk.encode("utf-8"))
        return {"bytes": path.stat().st_size, "messages": self.n, "no_date": self.no_date}


def _hwm_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _child(path: str) -> None:
    """Run in the fresh subprocess: import, then time one read_mbox."""
    import pyarrow as pa

    from engagequal.io import load_info, read_mbox

    base = _hwm_kib()
    t0 = time.perf_counter()
    c0 = time.process_time()
    table = read_mbox(path)
    cpu = time.process_time() - c0
    wall = time.perf_counter() - t0
    peak = _hwm_kib()
    info = load_info(table)
    print(json.dumps({
        "seconds": wall, "cpu_seconds": cpu, "rows": table.num_rows, "records": info.records,
        "set_aside": info.set_aside, "date_from_envelope": info.notes.get("date_from_envelope", 0),
        "baseline_kib": base, "peak_kib": peak, "table_bytes": table.nbytes,
        "arrow_pool_bytes": pa.total_allocated_bytes(),
    }))


def measure(path: Path) -> dict[str, Any]:
    """Time ``read_mbox(path)`` in a fresh interpreter; the child's figures."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-m", "benchmarks.bench_mbox", "--child", str(path)],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"the timed read failed:\n{res.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def run(size: int, *, seed: int, folder: Path, keep: bool) -> dict[str, Any]:
    path = folder / f"synthetic-{size}.mbox"
    t0 = time.perf_counter()
    gen = _Generator(seed).write(path, size)
    made = time.perf_counter() - t0
    try:
        m = measure(path)
    finally:
        if not keep:
            path.unlink()
    if m["records"] != gen["messages"] or m["set_aside"]:
        raise RuntimeError(f"read {m['records']} messages (set aside {m['set_aside']}), "
                           f"wrote {gen['messages']}")
    mb = gen["bytes"] / 1e6
    peak_mb = (m["peak_kib"] - m["baseline_kib"]) * 1024 / 1e6
    return {
        "size_bytes": gen["bytes"], "messages": gen["messages"], "rows": m["rows"],
        "no_date": gen["no_date"], "date_from_envelope": m["date_from_envelope"],
        "seconds": round(m["seconds"], 3), "cpu_seconds": round(m["cpu_seconds"], 3),
        "mb_per_s": round(mb / m["seconds"], 1),
        "mb_per_cpu_s": round(mb / max(m["cpu_seconds"], 1e-9), 1),
        "peak_rss_mb": round(peak_mb, 1),
        "peak_bytes_per_message": round(peak_mb * 1e6 / gen["messages"]),
        "baseline_rss_mb": round(m["baseline_kib"] * 1024 / 1e6, 1),
        "table_mb": round(m["table_bytes"] / 1e6, 1),
        "generate_seconds": round(made, 1), "kept": str(path) if keep else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1GB",
                    help="file size(s), comma-separated (e.g. 250MB,1GB; default 1GB)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the generated mbox files")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        _child(args.child)
        return 0
    sizes = [parse_size(s) for s in args.size.split(",") if s.strip()]
    base = Path(args.dir) if args.dir else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="eq-bench-mbox-", dir=base))
    results = []
    try:
        for size in sizes:
            r = run(size, seed=args.seed, folder=folder, keep=args.keep)
            results.append(r)
            print(f"{r['size_bytes'] / 1e6:,.0f} MB, {r['messages']:,} messages, "
                  f"{r['rows']:,} rows: {r['seconds']:.1f} s = {r['mb_per_s']:.1f} MB/s "
                  f"({r['mb_per_cpu_s']:.1f} MB per CPU second); "
                  f"peak RSS of the read {r['peak_rss_mb']:,.1f} MB "
                  f"({r['peak_bytes_per_message']:,} B/message; table {r['table_mb']:,.1f} MB; "
                  f"baseline after imports {r['baseline_rss_mb']:.0f} MB)", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"size x{b['size_bytes'] / a['size_bytes']:.2f}: peak RSS "
              f"x{b['peak_rss_mb'] / max(a['peak_rss_mb'], 1e-9):.2f}, messages "
              f"x{b['messages'] / a['messages']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"python": sys.version.split()[0],
                                               "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
