#!/usr/bin/python3
"""Turns pgorm_bench's measurements into the generated sections of docs/PERFORMANCE.md.

    report.py --results R.jsonl --rss rss.json [--python-versions V.json]
              [--callgrind DIR --callgrind-again DIR2] [--doc docs/PERFORMANCE.md]

Each generated section sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` in
the document; everything else (the prose, the profile analysis) is kept as written. A section
whose data was not given (e.g. no --callgrind) is left as it was. Without --doc, prints Markdown.
"""
import argparse
import datetime
import glob
import json
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict

WORKLOADS = [
    ("insert_one", "insert one row per transaction", 2000, "transaction"),
    ("bulk_insert", "insert 10,000 rows in one transaction", 10000, "row"),
    ("get_pk", "get by primary key, fresh session", 5000, "lookup"),
    ("get_pk_in_tx", "get by primary key inside begin()/commit()", 5000, "lookup"),
    ("load_10k", "load 10,000 rows as objects", None, "row"),
    ("load_100k", "load 100,000 rows as objects", None, "row"),
    ("users_todos", "1,000 users with their 20 todos each", None, "todo"),
    ("update_1000", "load 1,000, change each, commit", 1000, "object"),
    ("list_page", "filtered, ordered, paginated list (100 pages)", 100, "query"),
]
TITLES = {w: t for w, t, _, _ in WORKLOADS}
BASE = {"bulk_insert": "libpq COPY"}  # the floor each workload's ratios are taken against
ORDER = ["libpq", "libpq COPY", "libpq row-by-row", "libpqxx", "libpqxx stream_to", "pgorm",
         "pgorm add_all+commit", "pgorm insert().values()", "pgorm values()", "asyncpg",
         "asyncpg COPY", "SQLAlchemy ORM", "SQLAlchemy add_all+commit",
         "SQLAlchemy insert() executemany"]


def order_key(c):
    return ORDER.index(c) if c in ORDER else len(ORDER)


def load_results(path):
    meta, runs = {}, defaultdict(dict)  # runs[(workload, contender)][round] = (seconds, rows)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if "meta" in d:
                meta = d["meta"]
            else:
                runs[(d["workload"], d["contender"])][d["round"]] = (d["seconds"], d["rows"])
    return meta, runs


class Stats:
    def __init__(self, runs):
        self.runs = runs

    def contenders(self, workload):
        return sorted({c for w, c in self.runs if w == workload}, key=order_key)

    def median(self, workload, contender):
        r = self.runs.get((workload, contender))
        return statistics.median(s for s, _ in r.values()) if r else None

    def rows(self, workload, contender):
        r = self.runs.get((workload, contender))
        return statistics.median(n for _, n in r.values()) if r else None

    def ratio(self, workload, a, b):
        """Median over rounds of a/b, pairing the runs of the same round (interleaved)."""
        ra, rb = self.runs.get((workload, a)), self.runs.get((workload, b))
        if not ra or not rb:
            return None
        pairs = [ra[k][0] / rb[k][0] for k in ra if k in rb and rb[k][0] > 0]
        return statistics.median(pairs) if pairs else None

    def ratio_across(self, wa, a, wb, b):
        ra, rb = self.runs.get((wa, a)), self.runs.get((wb, b))
        if not ra or not rb:
            return None
        pairs = [ra[k][0] / rb[k][0] for k in ra if k in rb and rb[k][0] > 0]
        return statistics.median(pairs) if pairs else None

    def spread(self, workload, contender):
        r = self.runs.get((workload, contender))
        s = [x for x, _ in r.values()]
        return min(s), max(s)


def fmt_time(seconds):
    ms = seconds * 1000
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:,.1f} ms" if ms >= 10 else f"{ms:,.2f} ms"


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}x"


def section_environment(meta, pyv, rounds, run_date):
    lines = [
        f"- Date: {run_date:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {meta.get('nproc')} cores ({meta.get('cpu')}), shared with other builds; "
        f"loopback TCP to a throwaway PostgreSQL {meta.get('server')} (pg_virtualenv, fsync=off)",
        f"- Client: {meta.get('compiler')}, -O3 (CMake Release); libpq {meta.get('libpq')}, "
        f"libpqxx {meta.get('libpqxx')}",
    ]
    if pyv:
        lines.append(f"- Python {pyv.get('python')}: SQLAlchemy {pyv.get('sqlalchemy')} with psycopg2 "
                     f"{pyv.get('psycopg2')}, asyncpg {pyv.get('asyncpg')}")
    lines.append(f"- Seed: {meta.get('seed')}; {rounds} measured rounds after one warm-up round, "
                 "contenders interleaved within each round")
    return "\n".join(lines)


def section_results(stats):
    out = ["| workload | contender | median | per op | ratio to libpq | min – max |",
           "|---|---|---:|---:|---:|---|"]
    for w, title, ops, unit in WORKLOADS:
        base = BASE.get(w, "libpq")
        for c in stats.contenders(w):
            m = stats.median(w, c)
            n = ops or stats.rows(w, c) or 1
            per = m / n * 1e6
            lo, hi = stats.spread(w, c)
            ratio = stats.ratio(w, c, base)
            name = f"**{c}**" if c.startswith("pgorm") else c
            out.append(f"| {title} | {name} | {fmt_time(m)} | {per:,.1f} µs/{unit} | "
                       f"{fmt_ratio(ratio)} | {fmt_time(lo)} – {fmt_time(hi)} |")
    return "\n".join(out)


def verdict(ok):
    return "**met**" if ok else "**not met**"


def section_targets(stats, rss, callgrind_stable, cg=None, cg_rows=None):
    """The targets of issue 13 (performance round 2), each with met / not met."""
    rows = ["| target | measured | status |", "|---|---|---|"]

    def add(target, value, ok, note=""):
        rows.append(f"| {target} | {value} | {verdict(ok) if ok is not None else 'n/a'}"
                    f"{' — ' + note if note else ''} |")

    def at_most(r, limit):
        return r is not None and r <= limit

    def faster_than_asyncpg(w, p="pgorm", a="asyncpg"):
        x = stats.ratio(w, a, p)  # > 1: pgorm is faster
        return x, x is not None and x > 1

    r = stats.ratio("get_pk", "pgorm", "libpq")
    add("get by primary key, fresh session ≤ 1.05x raw libpq", fmt_ratio(r), at_most(r, 1.05))
    for w in ("load_10k", "load_100k"):
        r = stats.ratio(w, "pgorm", "libpq")
        rv = stats.ratio(w, "pgorm values()", "libpq")
        add(f"{TITLES[w]}: tracked ≤ 1.25x raw libpq", fmt_ratio(r), at_most(r, 1.25))
        add(f"{TITLES[w]}: values() ≤ 1.00x raw libpq", fmt_ratio(rv), at_most(rv, 1.00))
    r = stats.ratio("users_todos", "pgorm", "libpq")
    add("users with their todos (selectin): tracked ≤ 1.25x the hand-written two queries",
        fmt_ratio(r), at_most(r, 1.25))
    r = stats.ratio("insert_one", "pgorm", "libpq")
    x, fast = faster_than_asyncpg("insert_one")
    add("insert one row per transaction ≤ 1.2x raw libpq and faster than asyncpg",
        f"{fmt_ratio(r)}; asyncpg takes {fmt_ratio(x)} pgorm's time", at_most(r, 1.2) and fast)
    r = stats.ratio("bulk_insert", "pgorm insert().values()", "libpq COPY")
    add("bulk insert 10,000 rows: insert().values() ≤ 1.15x raw COPY", fmt_ratio(r),
        at_most(r, 1.15))
    r = stats.ratio("bulk_insert", "pgorm add_all+commit", "libpq COPY")
    add("bulk insert 10,000 rows: add_all + commit ≤ 1.3x raw COPY", fmt_ratio(r), at_most(r, 1.3))
    r = stats.ratio("update_1000", "pgorm", "libpq")
    same = stats.ratio("update_1000", "pgorm", "libpq (same SQL)")
    x, fast = faster_than_asyncpg("update_1000")
    add("load 1,000, change each, commit ≤ 1.2x raw libpq (pipelined) and faster than asyncpg",
        f"{fmt_ratio(r)}; {fmt_ratio(same)} libpq sending pgorm's one UPDATE; "
        f"asyncpg takes {fmt_ratio(x)} pgorm's time", at_most(r, 1.2) and fast)
    r = stats.ratio("list_page", "pgorm", "libpq")
    add("filtered, ordered, paginated list ≤ 1.05x raw libpq", fmt_ratio(r), at_most(r, 1.05))
    if cg:
        p, b = cg.get(("list_page", "pgorm")), cg.get(("list_page", "libpq"))
        if p and b:
            add("paginated list: client instructions per page ≤ 1.5x raw libpq's",
                f"{p[0] / b[0]:.2f}x ({p[0] / 100:,.0f} against {b[0] / 100:,.0f})",
                p[0] / b[0] <= 1.5)
    else:
        add("paginated list: client instructions per page ≤ 1.5x raw libpq's",
            "see *Instruction counts* (`bash scripts/bench.sh --callgrind`)", None)

    # SQLAlchemy: >= 8x where the client's work dominates; the others are reported.
    client_bound = {"get_pk": "pgorm", "load_10k": "pgorm", "load_100k": "pgorm",
                    "users_todos": "pgorm", "update_1000": "pgorm",
                    "bulk_insert": "pgorm add_all+commit"}
    sa_pair = {"bulk_insert": "SQLAlchemy add_all+commit"}
    bound, other = [], []
    for w, title, _, _ in WORKLOADS:
        if w in client_bound:
            x = stats.ratio(w, sa_pair.get(w, "SQLAlchemy ORM"), client_bound[w])
            if x is not None:
                bound.append((x, title))
        else:
            x = stats.ratio(w, "SQLAlchemy ORM", "pgorm")
            if x is not None:
                other.append((x, title))
    if bound:
        add("≥ 8x faster than SQLAlchemy ORM where the client's work dominates (lookup, loads, "
            "users with todos, update, add_all)",
            f"{min(bound)[0]:.1f}x – {max(bound)[0]:.1f}x", all(x >= 8 for x, _ in bound),
            ", ".join(f"{t}: {x:.1f}x" for x, t in sorted(bound) if x < 8))
    if other:
        add("SQLAlchemy ORM on the other workloads (reported)",
            ", ".join(f"{t}: {x:.1f}x" for x, t in sorted(other)), None)
    apg = []
    for w, title, _, _ in WORKLOADS:
        a = "asyncpg COPY" if w == "bulk_insert" else "asyncpg"
        p = "pgorm insert().values()" if w == "bulk_insert" else "pgorm"
        x = stats.ratio(w, a, p)
        if x is not None:
            apg.append((x, title))
    if apg:
        add("faster than asyncpg on every workload", f"{min(apg)[0]:.2f}x – {max(apg)[0]:.2f}x",
            all(x > 1 for x, _ in apg),
            ", ".join(f"{t}: {x:.2f}x" for x, t in sorted(apg) if x <= 1))
    if rss:
        m = rss_summary(rss).get("pgorm")
        if m:
            add("memory: tracked load of 100,000 rows peaks at ≤ 2.0x the objects' size",
                f"{m['ratio']:.2f}x ({m['peak']:.1f} MiB peak growth for {m['objects']:.1f} MiB of "
                "objects)", m["ratio"] <= 2.0)
    add("streaming and compile time", "measured separately: see *Streaming* and *Compile time*",
        None)
    if callgrind_stable is not None:
        add("client-side instruction counts stable from run to run",
            f"largest difference between two runs: {callgrind_stable:.2f}%", callgrind_stable < 1.0)
    else:
        add("client-side instruction counts stable from run to run",
            "see *Instruction counts* (recorded by `bash scripts/bench.sh --callgrind`)", None)
    return "\n".join(rows)


def rss_summary(rss):
    by = defaultdict(list)
    for r in rss:
        by[r["contender"]].append(r)
    out = {}
    for c, rs in by.items():
        peak = statistics.median((r["peak_rss_kib"] - r["rss_before_kib"]) / 1024 for r in rs)
        objects = statistics.median(r["object_bytes"] for r in rs) / 2**20
        out[c] = {"rows": rs[0]["rows"], "peak": peak, "objects": objects,
                  "ratio": peak / objects if objects else 0}
    return out


def section_memory(rss):
    s = rss_summary(rss)
    out = ["| contender | rows | objects' own size | peak RSS growth | ratio |",
           "|---|---:|---:|---:|---:|"]
    for c in sorted(s, key=order_key):
        m = s[c]
        out.append(f"| {c} | {m['rows']:,} | {m['objects']:.1f} MiB | {m['peak']:.1f} MiB | "
                   f"{m['ratio']:.2f}x |")
    return "\n".join(out)


def read_callgrind(directory):
    """{(workload, contender): instructions} from the per-entry dumps of one valgrind run."""
    out = {}
    for path in glob.glob(os.path.join(directory, "callgrind.out*")):
        label, total = None, None
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("desc: Trigger: Client Request: "):
                    label = line.split("Client Request: ", 1)[1].strip()
                elif line.startswith("summary:") or line.startswith("totals:"):
                    total = int(line.split()[1])
        if label and "|" in label and total is not None:
            w, c = label.split("|", 1)
            out[(w, c)] = (total, path)
    return out


def callgrind_results(directory):
    rows = {}
    with open(os.path.join(directory, "results.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            if "workload" in d:
                rows[(d["workload"], d["contender"])] = d["rows"]
    return rows


def section_callgrind(cg1, cg2, rows):
    out = ["| workload | contender | instructions | per op | vs libpq | run 2 differs by |",
           "|---|---|---:|---:|---:|---:|"]
    worst = 0.0
    for w, title, ops, unit in WORKLOADS:
        base = BASE.get(w, "libpq")
        cs = sorted({c for (x, c) in cg1 if x == w}, key=order_key)
        for c in cs:
            n1 = cg1[(w, c)][0]
            n = ops or rows.get((w, c)) or 1
            b = cg1.get((w, base))
            diff = None
            if cg2 and (w, c) in cg2:
                diff = abs(cg2[(w, c)][0] - n1) / n1 * 100
                worst = max(worst, diff)
            name = f"**{c}**" if c.startswith("pgorm") else c
            out.append(f"| {title} | {name} | {n1:,} | {n1 / n:,.0f} /{unit} | "
                       f"{fmt_ratio(n1 / b[0] if b else None)} | "
                       f"{'–' if diff is None else f'{diff:.2f}%'} |")
    return "\n".join(out), (worst if cg2 else None)


HARNESS_FRAMES = ("main", "(below main)", "__libc_start_main", "(anonymous namespace)::run",
                  "std::_Function_handler<bench::Outcome", "0x0")


def profile_top(path, inclusive, limit=12):
    """The functions with the most instructions in one dump (callgrind_annotate), without the
    harness's own frames."""
    try:
        text = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
                               "--threshold=100", path],
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    out = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = re.sub(r" \[[^\]]*\]$", "", m.group(3))  # the object file
        name = re.sub(r"^(\?\?\?|[^ :]*\.(c|cc|cpp|h|hpp|tcc|S)):", "", name)
        if name.startswith(HARNESS_FRAMES) or "bench::timed" in name:
            continue
        out.append((float(m.group(2)), name))
        if len(out) >= limit:
            break
    return out


def section_profiles(stats, cg1):
    """Profiles of the two pgorm workloads with the worst ratio to raw libpq."""
    ranked = []
    for w, title, _, _ in WORKLOADS:
        base = BASE.get(w, "libpq")
        for c in stats.contenders(w):
            if c.startswith("pgorm") and (w, c) in cg1:
                r = stats.ratio(w, c, base)
                if r is not None:
                    ranked.append((r, w, c))
    ranked.sort(reverse=True)
    out = []
    for r, w, c in ranked[:2]:
        out.append(f"**{TITLES[w]}, {c}** ({r:.2f}x raw libpq). Share of the workload's "
                   "client-side instructions, inclusive (the function and what it calls):\n")
        out.append("```")
        for pct, name in profile_top(cg1[(w, c)][1], True):
            out.append(f"{pct:5.1f}%  {shorten(name)}")
        out.append("```\n\nExclusive (the function's own instructions):\n")
        out.append("```")
        for pct, name in profile_top(cg1[(w, c)][1], False, 8):
            out.append(f"{pct:5.1f}%  {shorten(name)}")
        out.append("```\n")
    return "\n".join(out).rstrip()


def shorten(name, width=150):
    name = name.replace("std::__cxx11::", "std::").replace("std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string")
    return name if len(name) <= width else name[:width - 1] + "…"


def splice(doc, name, body):
    begin, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(doc):
        raise SystemExit(f"report.py: {begin} ... {end} missing from the document")
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", doc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--rss")
    ap.add_argument("--python-versions")
    ap.add_argument("--callgrind")
    ap.add_argument("--callgrind-again")
    ap.add_argument("--doc")
    a = ap.parse_args()

    meta, runs = load_results(a.results)
    stats = Stats(runs)
    rounds = max((len(r) for r in runs.values()), default=0)
    pyv = json.load(open(a.python_versions)) if a.python_versions and os.path.exists(a.python_versions) else {}
    rss = json.load(open(a.rss)) if a.rss and os.path.exists(a.rss) else None

    sections = {"environment": section_environment(
        meta, pyv, rounds,
        datetime.datetime.fromtimestamp(os.path.getmtime(a.results), datetime.timezone.utc)),
                "results": section_results(stats)}
    stable = None
    cg1 = None
    if a.callgrind:
        cg1 = read_callgrind(a.callgrind)
        cg2 = read_callgrind(a.callgrind_again) if a.callgrind_again else {}
        sections["callgrind"], stable = section_callgrind(cg1, cg2, callgrind_results(a.callgrind))
        sections["profiles"] = section_profiles(stats, cg1)
    if rss:
        sections["memory"] = section_memory(rss)
    if stable is None and a.doc:
        # No new instruction counts: keep the verdict of the ones recorded in the document.
        m = re.search(r"<!-- generated:callgrind -->(.*?)<!-- /generated:callgrind -->",
                      open(a.doc).read(), re.S)
        diffs = [float(x) for x in re.findall(r"\| (\d+\.\d+)% \|", m.group(1))] if m else []
        stable = max(diffs) if diffs else None
    sections["targets"] = section_targets(stats, rss, stable, cg1)

    if a.doc:
        doc = open(a.doc).read()
        for name, body in sections.items():
            doc = splice(doc, name, body)
        open(a.doc, "w").write(doc)
    else:
        for name, body in sections.items():
            print(f"## {name}\n\n{body}\n")


if __name__ == "__main__":
    main()
