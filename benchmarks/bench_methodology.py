"""The methodology section of docs/performance.md."""

METHODOLOGY = """\
- **The service.** `SimulatedService` (the project's simulated service: stdlib
  `ThreadingHTTPServer`, HTTP/1.1 keep-alive, SQLite) runs on 127.0.0.1 in its own process, data in
  a temporary directory. It shares the cores with the contenders, so every number includes the
  server's own work — equally for every contender.
- **The ids.** `sim.seed()` loads the six sample matchups; the rest of the {ids:,} ids are clones of
  the default sample matchup under new ids (`20260603|기초자치단체장|bench-NNNN`: `|` and Hangul, so
  percent-encoding is exercised), inserted through the simulator's own store
  (`store.ingest_records`). Every GET therefore answers **200 with a real matchup body** and
  `verify` runs the **built-in default checks unchanged** (`/health`, the summary keys, `matchup_id`
  equal to the requested id): no 404 shortcut, no relaxed expectations. {ids:,} ids make
  {checks:,} checks (plus one readiness probe of `/health`).
- **Processes.** Every whole-process measurement is a fresh `sys.executable -m recovery_plugin ...`
  (or `python benchmarks/loops.py ...`) started by `benchmarks/measure.py`, which times it from
  spawn to exit and reads its peak RSS with `getrusage(RUSAGE_CHILDREN).ru_maxrss` after reaping
  it (the largest process of its tree; the wrapper and the driver are never counted). Arguments are
  argv lists, never a shell. MB means MiB. The commands inherit the environment minus
  `API_BASE_URL`, `RECOVERY_*`, `PYTEST_ADDOPTS`, `PYTEST_DISABLE_PLUGIN_AUTOLOAD` and
  `GITHUB_STEP_SUMMARY`, which would redirect or reshape what is measured.
- **Repetitions.** Contenders of a section run interleaved, their order rotated every round, so a
  slow moment of a shared machine does not land on one contender only; a discarded warm-up round
  precedes start-up and verify. The tables give min and median; every ratio is a median divided by
  the median of the section's baseline **measured in the same run**. The load average before and
  after the run is recorded above: on a busy machine rerun before drawing conclusions.
- **1. Start-up.** `--help`, and the README's smoke dry-run (`run --mode dry-run --matchup-id
  "20260603|광역자치단체장|11-000"`, built-in profile, which writes its report), against
  `python -c "import click"`. `python -c pass` shows what the interpreter alone costs here (site
  initialisation included): every row pays it, which is why ratios against `import click` are not
  ratios of the tool's own work.
- **2a. verify, whole process.** `verify --config <the simulator's runbook> --matchup-file ids.json`:
  interpreter start, imports, readiness probe, the generated pytest session ({checks:,} items),
  `api_capture.json` and the report. The loops (`benchmarks/loops.py`) make the same GETs in the
  same order, parse every body and check the same things, and write nothing: `urllib` opens one
  connection per URL (`urlopen`, ids quoted with `quote(id, safe="")`, the original script's way);
  `httpx` uses one keep-alive `Client`. The diagnostic row is the same `verify` with
  `PYTEST_DISABLE_PLUGIN_AUTOLOAD=1` (the launcher then loads only its own two pytest plugins): the
  difference is what the third-party pytest plugins installed here cost the session.
- **2b. Capture phase alone.** In the benchmark's own process, after a warm-up (imports, first
  connections): `capture_all(base_url, targets, CaptureSpec(), redactor=Redactor())` — the same
  targets `verify` builds, default spec (8 worker threads over one keep-alive `httpx.Client`,
  10 MiB body cap) — against the loops' functions, plus an `httpx.AsyncClient` with 8 requests in
  flight (the issue asks to measure before choosing). `capture_all` is timed alone; its captures are
  then checked with the plugin's own `evaluate`.
- **3. Apply.** `run --mode apply --skip-ingest --jobs N` with a runbook whose reprocess step is
  `{{python}} -c "import time; time.sleep({delay:g})" {{matchup_id}}`: each step costs exactly the
  delay plus an interpreter start, so the ratio measures the launcher's fan-out, not the machine's
  cores. (The simulator's own reprocess command with the `{{"reprocess": {{"delay": {delay:g}}}}}`
  fault adds SQLite work and snapshots per step, which on few cores measures CPU contention
  instead.) Ingest is
  skipped (it runs once whatever `--jobs` is); the baseline capture and the verification of the
  {apply_ids} ids are included in both. `--jobs 1` runs fewer times than `--jobs 8` (it takes
  {apply_ids} x {delay:g} s). Table 3b is the reprocess phase read from the report's step
  timestamps. The ideal ratio is ceil({apply_ids}/8)/{apply_ids} = {ideal:.2f}.
- **4. Peak RSS.** The {ids:,}-id `verify` figures (and the loops') come from the runs of 2a. The large body: the
  simulator's fault `{{"endpoints": {{"summary": {{"huge_mb": {huge}}}}}}}`, `verify` of one id;
  the capture stops reading at its 10 MiB cap, the summary check fails ("too large", which the
  benchmark checks) and `verify` exits 1, as it should. The target compares it with the dry-run's
  peak RSS.

- **1b. Start-up without cached bytecode.** The package copied fresh (no `__pycache__`) and put
  first on `PYTHONPATH`, `PYTHONDONTWRITEBYTECODE=1` for every row (click and the standard library
  keep their installed bytecode): what an install that leaves no bytecode for the project costs on
  every run. A wheel installed by pip is byte-compiled at install time; an editable install is
  compiled on first run only if its directory is writable.
- **1c. Import audit.** The dry-run under `python -S -X importtime` with this interpreter's
  `sys.path` (so no `.pth` file of the machine imports modules first and hides them), minus what
  `import click` imports the same way; top-level modules, cumulative time of the first import.
- **2w. Three servers.** The same data (a copy of the simulator's database) behind: the simulator
  (stdlib `ThreadingHTTPServer` with `TCP_NODELAY`); the same server and handler with
  `TCP_NODELAY` off — it writes headers and body in two `send` calls, as production servers behind
  Nagle's algorithm do; and a minimal ASGI app with the three endpoints (the simulator's own views,
  synchronous SQLite reads) under uvicorn with its defaults and one worker
  (`benchmarks/servers.py`). None is tuned for the client. Per server: the urllib loop (the
  original script: one connection per URL), a bare `http.client` keep-alive loop, a bare httpx
  `Client` loop, the same httpx loop over `LeanTransport`, `verify --api-base <server>`, and the
  same `verify` capturing in its own threads instead of its child process
  (`benchmarks/threaded_verify.py` swaps `ProcessCaptureBatch` for `CaptureBatch` and nothing
  else: the A/B of the child process). Ratios are given
  against the urllib loop and against the bare httpx and `http.client` loops **of the same run**.
  Against the server without `TCP_NODELAY` the keep-alive loops without QUICKACK wait ~40 ms per
  request, so that section runs one round fewer and no warm-up.
- **CPU.** Whole processes: `ru_utime + ru_stime` of `getrusage(RUSAGE_CHILDREN)` in
  `measure.py` after reaping the command (the command and everything it reaped; the servers are
  not its children, so their CPU is never counted). In-process rows (2b): `time.process_time()`
  of the benchmark process around the measured call.
- **5. Failing checks.** `verify --matchup-file` with N ids the service does not know: every
  matchup check fails (404), the two others pass; one run per N, stopped at the bound.

## Where the time goes

- **Nagle + delayed ACK.** A keep-alive client reading a response whose headers and body come in
  two segments from a server without `TCP_NODELAY` waits for its own delayed ACK (~40 ms on Linux)
  before the server sends the body: see the `http.client` and httpx loops in 2w2. A new connection
  per request (the urllib loop) starts in quick-ACK mode and never sees it. `LeanTransport` re-arms
  `TCP_QUICKACK` after every request is sent (the kernel drops it again by itself), which removes
  the stall; setting it once at connect changes nothing.
- **httpx's own cost.** Over `LeanTransport` the transport's share is small; what remains of the
  httpx rows over the bare `http.client` loop is the client surface (request building, URL parsing
  and quoting, headers, response model), paid per request in the capture process. Its cookie
  jar reads a response only when it sets a cookie (httpx otherwise builds urllib stand-ins for
  every response: an eighth of a capture's cost).
- **pytest per check.** The difference between `verify` and the capture phase alone (2b) is the
  session: start-up, one item per check, reporting. A generated check runs only its call phase
  through pytest's hooks (setup and teardown are reported as passed without running, when no
  plugin but pytest's own, pytest-json-report and ours listens to them); pytest's plugins that
  the checks do not use (warnings, doctest, pastebin, stepwise) are off, and those only a team's
  own code might use (skipping, unittest, tmpdir, monkeypatch, recwarn, subtests, junitxml, ...)
  are off in a session without `--checks-dir` or a runbook's `capture.pytest_plugins`
  (`python benchmarks/ablation.py` measures some of these savings A/B); pytest-json-report's
  stage records are built by our hook when they are only an outcome and the check's reasons
  (it would render every passed stage through a terminal writer). With failing checks
  (section 5) the time per 10,000 checks stays about constant: pytest's default failure summary
  scanned every report once per failure (quadratic), so the session uses `--tb=line`, and the
  report holds every reason.
- **The launcher never loads httpx.** Captures are plain data (`recovery_plugin.http.capture`);
  the capture process makes every request, the contract's OpenAPI document included, so the
  launcher starts it sooner and spends nothing on httpx's import (about 70 ms). A JSONPath of
  member names only (`$.has_data`) is answered without python-jsonpath (its import: about
  40 ms). A JSON body goes into `api_capture.json` as the text it came as (masked as text),
  not decoded and encoded again.
- **Start-up.** Section 1c lists what a dry-run imports beyond click; `tempfile`, `hashlib`
  (OpenSSL) and `tomllib` are not needed by it (the import sites are named in the table). Of
  what remains, the package's own dataclasses were the largest part: their fields are made
  without the standard library's per-field search of the module, and their compiled `__init__`
  code is kept beside the package's bytecode (keyed by its whole source). The garbage
  collector's passes over start-up's objects found nothing to free: the launcher pauses it for
  start-up and freezes what start-up made (`cli/startup.py`). Without cached bytecode (1b) the
  package's own modules are compiled on every run: about 8,000 lines for a dry-run.
- **Memory per check.** What a session keeps of a check until it ends is what 100,000 failing
  checks are made of (section 5): about 3 kB each. The terminal keeps a small stand-in of each
  check's call report (`KeptCallReport`), a check's own mark, stash and extra-keyword set are
  made only when something asks for them, a check shares the launcher's target, and the final
  report is masked without copying what masking leaves as it is.

## Why `verify` of {ids:,} ids is still slower than the urllib loop

The capture itself is faster than the loop (table 2b: one keep-alive client, 8 requests in
flight). What the loop does not do is everything a gate must: {checks:,} pytest items, each with
its setup/call/teardown and pytest-json-report's bookkeeping (about 0.25 ms an item here), the
report's per-check entries, and `api_capture.json` with every body. On this 2-core machine the
simulated service (itself Python, one interpreter lock) takes one core for its ~1 ms per request,
so the harness's own work cannot hide behind the network as it would against a real, remote
service: it competes with the service for the CPU. What was done about it: the verification
session loads only its own pytest plugins, skips log capture and fd-level capture per phase and
pytest's end-of-run garbage-collection passes; the capture runs in a child process started before
pytest is imported (its own interpreter lock), and each check reads its capture as soon as it
arrives; the OpenAPI contract answers "valid" with a compiled predicate and asks jsonschema only
for the reasons of an invalid body; bodies are masked in one pass over their text and the capture
file is written one capture per line with the C JSON encoder. What bounds `verify` now is the
CPU of this 2-core machine, shared three ways: the service, the capture process (about 0.3 ms a
request, mostly httpx's client surface) and the session (about 0.6 ms a check: pytest's item
protocol and hooks, pytest-json-report, the contract's schema and writing the capture file).
Going much further means fewer pytest items than checks (one item per endpoint, per-id outcomes
only in the report), which the issue's "one item per endpoint and per matchup id" rules out.
"""
