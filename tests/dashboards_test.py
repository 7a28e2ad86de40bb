#!/usr/bin/env python3
"""Checks rcbench's Grafana dashboards and Prometheus configuration.

  dashboards_test.py static   every dashboard is valid, current JSON with unique panel ids,
                              only the ${datasource} datasource, $__rate_interval in rates;
                              promtool check config / check rules pass.
  dashboards_test.py live     starts a real Prometheus (loopback, temp dir), runs the smoke
                              experiment with every component scraped, then runs every panel's
                              PromQL through Prometheus's HTTP API: each must parse and return
                              data for the run's time window. Needs root (the smoke experiment
                              makes cgroups) and `prometheus`; without them it prints
                              'skipped: why' and exits 0.

Prints 'N passed, N failed' and exits non-zero on any failure.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

SRC = pathlib.Path(os.environ.get("RCBENCH_SOURCE_DIR",
                                  pathlib.Path(__file__).resolve().parent.parent))
BIN = pathlib.Path(os.environ.get("RCBENCH_BIN_DIR", SRC / "build" / "bin"))
DASH = SRC / "dashboards"
PROM = DASH / "prometheus"

passed, failed = 0, 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")


def dashboards():
    for path in sorted((DASH / "grafana").glob("*.json")):
        yield path, json.loads(path.read_text())


def all_panels(board):
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])


def exprs(board):
    for p in all_panels(board):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield p, t["expr"]


def static_checks():
    gen = subprocess.run([sys.executable, str(DASH / "generate.py"), "--check"],
                         capture_output=True, text=True)
    check(gen.returncode == 0, f"dashboards are stale: {gen.stdout.strip()}")
    boards = list(dashboards())
    check(len(boards) >= 4, f"expected at least 4 dashboards, found {len(boards)}")
    for path, board in boards:
        name = path.name
        ids = [p["id"] for p in all_panels(board)]
        check(len(ids) == len(set(ids)), f"{name}: duplicate panel ids {ids}")
        variables = {v["name"]: v for v in board["templating"]["list"]}
        check(variables.get("datasource", {}).get("type") == "datasource",
              f"{name}: no datasource variable")
        text = json.dumps(board)
        for m in re.finditer(r'"datasource":\s*(\{[^{}]*\}|"[^"]*")', text):
            ds = json.loads(m.group(1))
            uid = ds.get("uid") if isinstance(ds, dict) else ds
            check(uid == "${datasource}", f"{name}: datasource other than ${{datasource}}: {ds}")
        for panel, expr in exprs(board):
            for window in re.findall(r"\b(?:rate|irate|increase)\([^\[]*\[([^\]]+)\]", expr):
                check(window == "$__rate_interval",
                      f"{name}/{panel['title']}: rate window {window!r}, want $__rate_interval")
            for var in re.findall(r"\$(\w+)", expr):
                check(var.startswith("__") or var in variables,
                      f"{name}/{panel['title']}: undeclared variable ${var}")
    # Every metric a panel or rule names must be exported by some component's code.
    sources = "".join(f.read_text(errors="replace")
                      for comp in ("agent", "loadgen", "server", "controller")
                      for f in (SRC / comp).glob("*.cc"))
    used = set()
    for _, board in boards:
        for _, expr in exprs(board):
            used.update(re.findall(r"\b((?:rcbench|container)_[a-z0-9_]+)", expr))
    rules_text = (PROM / "rules.yml").read_text()
    used.update(re.findall(r"\b((?:rcbench|container)_[a-z0-9_]+)", rules_text))
    for name in sorted(used):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        check(base in sources, f"metric {name} is not exported by any component")
    if shutil.which("promtool"):
        for args in (["check", "config", str(PROM / "prometheus.yml")],
                     ["check", "rules", str(PROM / "rules.yml")]):
            r = subprocess.run(["promtool", *args], capture_output=True, text=True)
            check(r.returncode == 0, f"promtool {' '.join(args)}: {r.stdout}{r.stderr}")
    else:
        check(False, "promtool is not installed (scripts/bootstrap installs prometheus)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prom_get(port, path, params):
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b'{"status":"error","error":"http error"}')


# Panels that cannot have data in the smoke experiment, with the reason. They must still parse.
# Keep this as short as possible: a panel without data anywhere else is a bug to fix.
NO_DATA_IN_SMOKE = {
}


def live_preconditions():
    if os.geteuid() != 0:
        return "not root (the smoke experiment creates cgroups through the agent)"
    if not shutil.which("prometheus"):
        return "prometheus is not installed (scripts/bootstrap installs it)"
    return None


def fast_scrape_config():
    # The shipped file scrapes every 5 s; smoke's runs last about 3 s each, so the test's copy
    # scrapes (and evaluates rules) every second to see every run's server.
    text = (PROM / "prometheus.yml").read_text()
    fast = re.sub(r"(scrape_interval|evaluation_interval): 5s", r"\1: 1s", text)
    check(fast.count(": 1s") == 2, "prometheus.yml: no 5s scrape/evaluation interval to lower")
    return fast


def prometheus_ready(prom, port, tmp):
    # The port was free a moment ago; make sure the Prometheus answering is the one we started.
    deadline = time.time() + 30
    while time.time() < deadline and prom.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1)
            flags = prom_get(port, "/api/v1/status/flags", {})
            ours = flags.get("data", {}).get("storage.tsdb.path") == str(tmp / "data")
            check(ours, f"another Prometheus answers on port {port}")
            return ours
        except OSError:
            time.sleep(0.1)
    log = (tmp / "prometheus.log").read_text(errors="replace")[-2000:]
    check(False, f"prometheus did not become ready on port {port}: {log}")
    return False


def describe_targets(port):
    r = prom_get(port, "/api/v1/targets", {"state": "any"})
    lines = []
    for t in r.get("data", {}).get("activeTargets", []) + r.get("data", {}).get(
            "droppedTargets", []):
        lines.append(f"  {t.get('scrapeUrl', t.get('discoveredLabels'))} {t.get('health')} "
                     f"{t.get('lastError', '')}")
    return "\n".join(lines) or "  (no targets)"


def substitute(expr):
    # Grafana variables for a query over everything; rate windows cover >= 4 scrapes.
    expr = expr.replace("$__rate_interval", "20s")
    return re.sub(r"\$(\w+)", ".*", expr)


def live_checks():
    rcbench = BIN / "rcbench"
    if not rcbench.exists():
        check(False, f"{rcbench} is not built")
        return
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="rcbench-prom-"))
    prom = None
    try:
        (tmp / "targets").mkdir()
        for job in ("agent", "loadgen", "server", "controller"):
            (tmp / "targets" / f"{job}.json").write_text("[]")
        (tmp / "prometheus.yml").write_text(fast_scrape_config())
        shutil.copy(PROM / "rules.yml", tmp / "rules.yml")
        port = free_port()
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.log", "w"))
        if not prometheus_ready(prom, port, tmp):
            return
        start = time.time()
        run = subprocess.run(
            [str(rcbench), "run", str(SRC / "experiments" / "smoke.yaml"),
             "--db", str(tmp / "results.db"), "--prometheus-sd-dir", str(tmp / "targets"),
             "--hold-metrics", "6s"],
            capture_output=True, text=True, timeout=300)
        end = time.time()
        check(run.returncode == 0, f"smoke experiment failed: {run.stdout[-2000:]}"
                                   f"{run.stderr[-2000:]}")
        for job in ("agent", "loadgen", "server", "controller"):
            text = (tmp / "targets" / f"{job}.json").read_text()
            check(json.loads(text) == [], f"targets/{job}.json not emptied on exit: {text}")
            r = prom_get(port, "/api/v1/query_range",
                         {"query": f'up{{job="rcbench-{job}", host="local", '
                                   'experiment="smoke"} == 1',
                          "start": start, "end": end, "step": "1s"})
            check(r.get("status") == "success" and r["data"]["result"],
                  f"rcbench-{job} was never scraped with host and experiment labels: {r}")
        for path, board in dashboards():
            for panel, expr in exprs(board):
                q = substitute(expr)
                r = prom_get(port, "/api/v1/query_range",
                             {"query": q, "start": start, "end": end, "step": "2s"})
                what = f"{path.name}/{panel['title']}: {q}"
                if r.get("status") != "success":
                    check(False, f"{what}: {r.get('error')}")
                    continue
                if (path.name, panel["title"]) in NO_DATA_IN_SMOKE:
                    print(f"no data expected: {path.name}/{panel['title']}: "
                          f"{NO_DATA_IN_SMOKE[(path.name, panel['title'])]}")
                    continue
                check(len(r["data"]["result"]) > 0, f"{what}: returned no data")
        # The recording rules (evaluated every second in this copy) must produce series too.
        for record in re.findall(r"^\s*- record:\s*(\S+)", (PROM / "rules.yml").read_text(),
                                 re.M):
            r = prom_get(port, "/api/v1/query_range",
                         {"query": record, "start": start, "end": end, "step": "2s"})
            check(r.get("status") == "success" and r["data"]["result"],
                  f"recording rule {record} produced no data: {r.get('error', '')}")
        if failed:
            print(f"Prometheus's targets at the end:\n{describe_targets(port)}")
    finally:
        if prom:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prom.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "static"
    if mode == "static":
        static_checks()
    elif mode == "live":
        reason = live_preconditions()
        if reason:
            print(f"skipped: {reason}")
            return 0
        live_checks()
    else:
        print(f"usage: {sys.argv[0]} static|live", file=sys.stderr)
        return 2
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
