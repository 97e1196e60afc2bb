#!/usr/bin/env bash
# TPC-H side by side: OmenDB, PostgreSQL 15 and DuckDB 2.0.1 on the same dbgen-identical data and
# the same query texts (bench/tpch/queries), measured in one run on this machine, the systems
# alternating round by round (OmenDB, PostgreSQL, DuckDB, OmenDB, PostgreSQL, DuckDB, ...);
# then writes bench/results/tpch.md.
#
#   scripts/tpch-compare.sh [SF]        (SF defaults to 1)
#
# Round 1 loads OmenDB and PostgreSQL (timed, COPY over the wire from the same .tbl files DuckDB
# reads, so generation is excluded for all three); later rounds only query them. DuckDB runs in memory
# through the peer script, so it loads the .tbl files again in every round. Every OmenDB and
# PostgreSQL answer is checked: against bench/tpch/answers/sf<SF> where committed (SF 0.01, 0.1),
# otherwise against PostgreSQL's own answers taken after its load (DuckDB's peer script does not
# hand back its answers, so DuckDB's are not checked here).
#
# Environment (all optional):
#   ROUNDS=2  RUNS=3           rounds, and timed runs per query per round (after one warm-up)
#   SHARDS=2                   OmenDB shards (one per core on this 2-core machine)
#   OMENDB_PORT=54329          OmenDB's port for the run
#   OMENDB_MEMORY_GB=8         OmenDB's data-segment limit (ulimit -d): a runaway plan aborts the
#                              server instead of taking the shared machine down; it is restarted
#                              and reloaded for the next round
#   QUERY_TIMEOUT=600          seconds before a query is cancelled and counted as failed
#   PG_URL=postgres://postgres@127.0.0.1:55432/tpch   (the database is created if missing)
#   PEERS=/work/shared/peers   postgres.sh and duckdb_tpch.py
#   PEER_DIR=/work/peer-data/postgres   the shared PostgreSQL cluster (left running)
#   DUCKDB_THREADS=2
#   WORK=target/tpch-compare   .tbl files, OmenDB's data directory, every round's JSON
#   OUT=bench/results/tpch.md
#   NOTE="..."                 a paragraph for the report's Notes section (why this SF, what else ran)
#   REPORT_ONLY=1              measure nothing: rewrite OUT from the JSON already in WORK
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sf=${1:-1}
ROUNDS=${ROUNDS:-2}
RUNS=${RUNS:-3}
SHARDS=${SHARDS:-2}
OMENDB_PORT=${OMENDB_PORT:-54329}
OMENDB_MEMORY_GB=${OMENDB_MEMORY_GB:-8}
QUERY_TIMEOUT=${QUERY_TIMEOUT:-600}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:55432/tpch}
PEERS=${PEERS:-/work/shared/peers}
export PEER_DIR=${PEER_DIR:-/work/peer-data/postgres}
DUCKDB_THREADS=${DUCKDB_THREADS:-2}
WORK=${WORK:-$root/target/tpch-compare}
OUT=${OUT:-$root/bench/results/tpch.md}
DUCKDB_VERSION=2.0.1

bench=$root/target/release/omendb-bench
omendb=$root/target/release/omendb
tbl=$WORK/tbl-sf$sf
queries=$root/bench/tpch/queries
omen_url=postgres://postgres@127.0.0.1:$OMENDB_PORT/postgres
mkdir -p "$WORK"
log() { printf '\n== %s\n' "$*"; }

if [ -z "${REPORT_ONLY:-}" ]; then
  log "building release binaries (omendb, omendb-bench)"
  cargo build --release -p omendb-wire --bin omendb -p omendb-bench --bin omendb-bench

  log "peers"
  "$PEERS/postgres.sh" start
  python3 -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null ||
    pip install "duckdb==$DUCKDB_VERSION"

  if [ ! -f "$tbl/.complete" ]; then
    log "generating SF $sf .tbl files into $tbl"
    rm -rf "$tbl"
    "$bench" tpch --sf "$sf" --write-tbl "$tbl"
    touch "$tbl/.complete"
  fi

  # --- OmenDB server --------------------------------------------------------------------------
  omendb_pid=
  omendb_durability="in-memory (this build has no WAL)"
  omendb_args=()
  omendb_help=$("$omendb" --help 2>&1 || true)
  if grep -q -- '--sync' <<<"$omendb_help"; then
    omendb_durability="WAL, --sync ${OMENDB_SYNC:-on}"
    omendb_args+=(--sync "${OMENDB_SYNC:-on}")
  fi
  omendb_commit=$(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!bench/results' || echo -dirty)

  stop_omendb() {
    if [ -n "$omendb_pid" ]; then
      kill "$omendb_pid" 2>/dev/null || true
      wait "$omendb_pid" 2>/dev/null || true
      omendb_pid=
    fi
  }
  trap stop_omendb EXIT

  start_omendb() {
    rm -rf "$WORK/omendb-data"
    (
      ulimit -d $((OMENDB_MEMORY_GB * 1024 * 1024))
      exec "$omendb" --port "$OMENDB_PORT" --listen 127.0.0.1 --shards "$SHARDS" \
        --data-dir "$WORK/omendb-data" --log warn "${omendb_args[@]}"
    ) >>"$WORK/omendb.log" 2>&1 &
    omendb_pid=$!
    for _ in $(seq 300); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$OMENDB_PORT") 2>/dev/null; then return 0; fi
      kill -0 "$omendb_pid" 2>/dev/null || { tail -20 "$WORK/omendb.log" >&2; return 1; }
      sleep 0.1
    done
    echo "omendb did not start; see $WORK/omendb.log" >&2
    return 1
  }

  omendb_alive() { [ -n "$omendb_pid" ] && kill -0 "$omendb_pid" 2>/dev/null; }

  omendb_flags=(--label omendb --shards "$SHARDS" --durability "$omendb_durability")

  # (Re)starts OmenDB and loads it, reporting the load into $1.
  omendb_fresh() {
    stop_omendb
    start_omendb
    "$bench" tpch --sf "$sf" --url "$omen_url" --load auto --from-tbl "$tbl" --load-only "${omendb_flags[@]}" \
      --omendb-commit "$omendb_commit" --out "$1"
    # Resident memory once the load is done (issue 6: at most 1.5x the raw data).
    sleep 2
    omendb_memory "$1/memory-after-load.txt"
  }

  # The server's current and peak resident set (kB), from /proc.
  omendb_memory() {
    mkdir -p "$(dirname "$1")"
    grep -E '^(VmRSS|VmHWM):' "/proc/$omendb_pid/status" >"$1" 2>/dev/null || true
  }

  # One OmenDB round, one query per harness call: a query that kills the server (e.g. at its memory
  # limit) is charged to that query alone, with the server's last words in omendb-crashes.txt, and
  # the server is restarted and reloaded for the next query instead of failing all the rest.
  omendb_round() {
    local out=$1 n q size
    omendb_alive || omendb_fresh "$out/omendb-load"
    for n in $(seq 22); do
      q=$(printf 'q%02d' "$n")
      omendb_alive || omendb_fresh "$out/omendb-reload-before-$q"
      size=$(stat -c %s "$WORK/omendb.log")
      if ! "$bench" "${common[@]}" --url "$omen_url" --load skip --queries "$n" "${omendb_flags[@]}" \
        --omendb-commit "$omendb_commit" --answers "$answers" --out "$out/omendb-$q"; then
        for _ in $(seq 50); do omendb_alive || break; sleep 0.1; done
        if ! omendb_alive; then
          echo "$q: $(tail -c +$((size + 1)) "$WORK/omendb.log" |
            grep -m1 -E 'memory allocation|panicked|error' || tail -n1 "$WORK/omendb.log")" \
            >>"$out/omendb-crashes.txt"
        elif grep -q '"error": "timed out' "$out/omendb-$q"/*.json 2>/dev/null; then
          # The server may still be working on the cancelled query; it must not slow the next
          # query (or the other systems' turns), so it is replaced.
          stop_omendb
        fi
      fi
    done
  }

  # --- reference answers ----------------------------------------------------------------------
  # Committed ones where they exist; otherwise PostgreSQL's, taken fresh in round 1 (never reused
  # from an earlier run, whose query texts may have differed).
  answers=$root/bench/tpch/answers/sf$sf
  if [ ! -d "$answers" ]; then
    answers=$WORK/answers-sf$sf
    rm -rf "$answers"
  fi

  common=(tpch --sf "$sf" --runs "$RUNS" --timeout "$QUERY_TIMEOUT")
  for round in $(seq "$ROUNDS"); do
    out=$WORK/round$round
    rm -rf "$out"
    mkdir -p "$out"

    log "round $round: PostgreSQL"
    pg_load=skip
    [ "$round" = 1 ] && pg_load=auto
    pg_answers=()
    [ -d "$answers" ] && pg_answers=(--answers "$answers")
    "$bench" "${common[@]}" --url "$PG_URL" --load "$pg_load" --from-tbl "$tbl" --pg-indexes --label postgresql \
      --durability "synchronous_commit=on" "${pg_answers[@]}" --out "$out" ||
      echo "PostgreSQL round $round reported failures" >&2
    if [ ! -d "$answers" ]; then
      log "taking reference answers from PostgreSQL (already loaded) into $answers"
      "$bench" tpch --sf "$sf" --reference-url "$PG_URL" --load skip --write-answers "$answers" \
        --timeout "$QUERY_TIMEOUT"
    fi

    log "round $round: OmenDB ($SHARDS shards)"
    omendb_round "$out"
    omendb_alive && omendb_memory "$out/memory-after-queries.txt"

    log "round $round: DuckDB $DUCKDB_VERSION ($DUCKDB_THREADS threads)"
    python3 "$PEERS/duckdb_tpch.py" "$tbl" "$queries" --threads "$DUCKDB_THREADS" --runs "$RUNS" \
      --json "$out/duckdb.json"
  done
  stop_omendb
fi

log "writing $OUT"
mkdir -p "$(dirname "$OUT")"
machine_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
machine_mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
python3 - "$WORK" "$ROUNDS" "$OUT" "$root" "${NOTE:-}" <<PY
import glob, json, math, os, statistics, sys, datetime
work, rounds, out, root, user_note = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def load(r, name):
    p = os.path.join(work, f"round{r}", name)
    return json.load(open(p)) if os.path.exists(p) else None
def harness(label):
    """Per round, the harness reports of one system merged (OmenDB runs one query per call)."""
    reps = []
    for r in range(1, rounds + 1):
        files = sorted(glob.glob(os.path.join(work, f"round{r}", "**", f"tpch-{label}-sf$sf.json"), recursive=True))
        parts = [json.load(open(p)) for p in files]
        if not parts:
            continue
        rep = dict(parts[0])
        rep["queries"] = sorted((q for p in parts for q in p["queries"]), key=lambda q: q["query"])
        loads = [p["load"] for p in parts if p.get("load")]
        rep["load"] = loads[0] if loads else None
        rep["reloads"] = max(0, len(loads) - 1)
        # The load-only report names no reference; the query reports do.
        rep["reference"] = next((p["reference"] for p in parts if p.get("reference") not in (None, "none")), "none")
        reps.append(rep)
    return reps
def crashes():
    notes = {}
    for r in range(1, rounds + 1):
        p = os.path.join(work, f"round{r}", "omendb-crashes.txt")
        if os.path.exists(p):
            for line in open(p):
                q, _, why = line.strip().partition(": ")
                notes.setdefault(q, f"round {r}: the server aborted ({why})")
    return notes
omen, pg = harness("omendb"), harness("postgresql")
duck = [x for x in (load(r, "duckdb.json") for r in range(1, rounds + 1)) if x]

def per_query(reps):
    res = {}
    for q in [f"q{n:02d}" for n in range(1, 23)]:
        times, bad = [], None
        for rep in reps:
            e = next((x for x in rep["queries"] if x["query"] == q), None)
            if e is None:
                continue
            if e["error"] or e["median_s"] is None:
                bad = bad or (e["error"] or e["check"])
            times += e["times_s"]
        res[q] = (None, bad) if bad or not times else ((min(times), statistics.median(times), max(times)), None)
    return res
O, P = per_query(omen), per_query(pg)
D = {}
for q in [f"q{n:02d}" for n in range(1, 23)]:
    ts = [d["queries"][q] for d in duck if q in d["queries"]]
    D[q] = ((min(ts), statistics.median(ts), max(ts)), None) if ts else (None, "not run")
def totals(res):
    meds = [v[0][1] for v in res.values() if v[0]]
    if not meds:
        return 0, 0.0, 0.0
    return len(meds), sum(meds), math.exp(sum(map(math.log, meds)) / len(meds))
def checked(reps):
    if not reps:
        return "not run"
    good = lambda q: q["check"] in ("identical", "within tolerance") and not q["error"]
    ok = [sum(good(q) for q in r["queries"]) for r in reps]
    unchecked = sum(q["check"] == "unchecked" for r in reps for q in r["queries"])
    text = ("all 22 answers checked and correct in every round" if min(ok) == 22 and all(len(r["queries"]) == 22 for r in reps)
            else f"{min(ok)} of 22 answers checked and correct in every round")
    if unchecked:
        text += f" ({unchecked} query runs had no reference to check against)"
    return text + f", against {reps[-1]['reference']}"
f = lambda v: "—" if v is None else f"{v:.3f}"
def cell(v):
    t, bad = v
    return "fails" if bad else f"{f(t[1])} ({f(t[0])}–{f(t[2])})"
def ratio(a, b):
    if a[0] is None or b[0] is None:
        return "—"
    r = a[0][1] / b[0][1]
    return f"{r:.1f}×" if r >= 1 else f"{r:.2f}×"

stamps = [r["unix_time"] for r in omen + pg]
when = datetime.datetime.fromtimestamp(max(stamps), datetime.timezone.utc) if stamps else datetime.datetime.now(datetime.timezone.utc)
now = when.strftime("%Y-%m-%d %H:%M UTC")
o0 = omen[0] if omen else {}
p0 = pg[0] if pg else {}
L = []
L.append(f"# TPC-H SF $sf: OmenDB beside PostgreSQL 15 and DuckDB $DUCKDB_VERSION")
L.append("")
L.append(f"Measured {now} by \`scripts/tpch-compare.sh $sf\` (ROUNDS={rounds} RUNS=$RUNS SHARDS=$SHARDS"
         f" DUCKDB_THREADS=$DUCKDB_THREADS), all systems in the same run on the same machine, alternating"
         f" round by round. Times are seconds: the median (min–max) over {rounds} rounds × $RUNS timed runs"
         f" after one warm-up per round, client-measured, whole answer fetched"
         f" (DuckDB: the median of its per-round medians, as its peer script reports them).")
L.append("")
L.append(f"- Machine: $machine_cpu, $(nproc) cores, $machine_mem, Linux $(uname -r); shared with other work, so noisy.")
L.append(f"- OmenDB: commit \`{o0.get('omendb_commit')}\`, {o0.get('shards')} shards, durability: {o0.get('durability')}; {o0.get('server_version', 'not run')}.")
L.append(f"- PostgreSQL: {p0.get('server_version', 'not run')}; settings of \`peers/postgres.sh\` (shared_buffers 4GB,"
         f" work_mem 256MB, 2 parallel workers, synchronous_commit on); primary keys (bench/tpch/schema.sql) plus the"
         f" foreign-key indexes of bench/tpch/pg_indexes.sql, then ANALYZE.")
L.append(f"- DuckDB: {duck[0]['version'] if duck else 'not run'}, {duck[0]['threads'] if duck else '-'} threads, in memory, loading the same .tbl files.")
L.append(f"- Data: \`omendb-bench tpch --write-tbl\` (tpchgen, dbgen-identical); queries: bench/tpch/queries (validation parameters; Q15 as the WITH variant).")
L.append(f"- Answers: OmenDB: {checked(omen)}. PostgreSQL: {checked(pg)}. DuckDB: not checked by this script.")
L.append("")
L.append("## Load")
L.append("")
L.append("| system | how | seconds | note |")
L.append("|---|---|---:|---|")
for name, reps in (("OmenDB", omen), ("PostgreSQL", pg)):
    ld = reps[0].get("load") if reps else None
    if ld:
        note = "generation included" if ld["generation_included"] else ("from the .tbl files" if ld.get("from_files") else "generation excluded")
        if ld.get("indexes_and_analyze_s") is not None:
            note += f"; then FK indexes + ANALYZE {ld['indexes_and_analyze_s']:.1f} s"
        L.append(f"| {name} | {ld['method']} over the wire, {ld['connections']} connections | {ld['load_s']:.1f} | {note} |")
if duck:
    L.append(f"| DuckDB | COPY from the .tbl files | {statistics.median(d['load_s'] for d in duck):.1f} | median over rounds |")
L.append("")
raw = sum(os.path.getsize(p) for p in glob.glob(os.path.join(work, "tbl-sf$sf", "*.tbl")))
def kb(path, key):
    if not os.path.exists(path):
        return None
    for line in open(path):
        k, _, v = line.partition(":")
        if k == key:
            return int(v.split()[0]) * 1024
    return None
after_load = [kb(p, "VmRSS") for p in sorted(glob.glob(os.path.join(work, "round*", "**", "memory-after-load.txt"), recursive=True))]
peaks = [kb(p, "VmHWM") for p in sorted(glob.glob(os.path.join(work, "round*", "memory-after-queries.txt")))]
after_load = [x for x in after_load if x]
peaks = [x for x in peaks if x]
if raw and (after_load or peaks):
    gib = lambda b: f"{b / 2**30:.2f} GiB"
    L.append("")
    L.append(f"OmenDB's memory (resident set of the server process, from /proc; raw data = the .tbl files, {gib(raw)}):")
    if after_load:
        L.append(f"after the load {gib(max(after_load))} = **{max(after_load) / raw:.2f}× the raw data**" + (";" if peaks else "."))
    if peaks:
        L.append(f"peak over the load and all queries {gib(max(peaks))} ({max(peaks) / raw:.2f}×).")
L.append("")
L.append("## Queries")
L.append("")
L.append("| query | OmenDB | PostgreSQL | DuckDB | OmenDB / DuckDB | PostgreSQL / OmenDB |")
L.append("|---|---:|---:|---:|---:|---:|")
for q in O:
    L.append(f"| {q} | {cell(O[q])} | {cell(P[q])} | {cell(D[q])} | {ratio(O[q], D[q])} | {ratio(P[q], O[q])} |")
for name, res, what in (("OmenDB", O, "ran correctly"), ("PostgreSQL", P, "ran correctly"),
                        ("DuckDB", D, "ran (answers unchecked)")):
    n, tot, gm = totals(res)
    L.append(f"| **{name}: {n} of 22 {what}** | sum {tot:.3f} | geomean {gm:.4f} | | | |")
L.append("")
fails = [(q, v[1]) for q, v in O.items() if v[1]]
notes = crashes()
if fails:
    L.append("## OmenDB queries that fail")
    L.append("")
    for q, why in fails:
        L.append(f"- {q}: {why}" + (f"; {notes[q]}" if q in notes else ""))
    reloads = sum(r.get("reloads", 0) for r in omen)
    if reloads:
        L.append("")
        L.append(f"OmenDB runs under a $OMENDB_MEMORY_GB GiB data-segment limit (ulimit -d); after each abort it was"
                 f" restarted and reloaded ({reloads} reloads in all), so every other query still ran.")
    L.append("")
    L.append("Sums and geometric means cover only the queries that ran correctly, so they are not comparable"
             " across systems until all 22 run.")
if user_note:
    L += ["", "## Notes", "", user_note]
text = "\n".join(L).replace(root + "/", "") + "\n"
open(out, "w").write(text)
print(text)
PY
