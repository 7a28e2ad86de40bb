#!/usr/bin/env python3
"""Generates rcbench's Grafana dashboards (dashboards/grafana/*.json) from one description.

Why a generator: every panel must use the `${datasource}` variable, unique ids, and
`$__rate_interval` in rates; writing that by hand in four JSON files drifts. The JSON is
committed (Grafana users load it directly) and tests/dashboards_test.py fails if it is stale:
run `dashboards/generate.py` after editing this file.
"""
import json
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent / "grafana"
DS = {"type": "prometheus", "uid": "${datasource}"}


def var_datasource():
    return {"name": "datasource", "type": "datasource", "query": "prometheus",
            "label": "Data source", "current": {}, "hide": 0}


def var_query(name, label, query, multi=True):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": f"{name}-var"},
            "definition": query, "refresh": 2, "multi": multi, "includeAll": True,
            "allValue": ".*", "current": {}, "sort": 1, "hide": 0}


class Board:
    def __init__(self, uid, title, description, variables):
        self.uid, self.title, self.description = uid, title, description
        self.variables = variables
        self.panels = []
        self.y = 0
        self.x = 0
        self.row_height = 0

    def row(self, title):
        self._newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def _newline(self):
        if self.x:
            self.y += self.row_height
            self.x = 0
            self.row_height = 0

    def panel(self, title, targets, unit="short", kind="timeseries", w=12, h=8,
              description="", stack=False):
        if self.x + w > 24:
            self._newline()
        p = {"type": kind, "title": title, "description": description, "datasource": DS,
             "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
             "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
             "options": {},
             "targets": [{"datasource": DS, "refId": chr(ord("A") + i), "expr": expr,
                          "legendFormat": legend, "range": kind == "timeseries",
                          "instant": kind != "timeseries"}
                         for i, (expr, legend) in enumerate(targets)]}
        if kind == "timeseries" and stack:
            p["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal"},
                                                      "fillOpacity": 30}
        self.panels.append(p)
        self.x += w
        self.row_height = max(self.row_height, h)

    def json(self):
        for i, p in enumerate(self.panels, start=1):
            p["id"] = i
        return {"uid": self.uid, "title": self.title, "description": self.description,
                "tags": ["rcbench"], "timezone": "browser", "schemaVersion": 38,
                "version": 1, "editable": True, "refresh": "5s",
                "time": {"from": "now-15m", "to": "now"},
                "templating": {"list": self.variables}, "annotations": {"list": []},
                "panels": self.panels}


HOST = var_query("host", "Host", "label_values(rcbench_agent_samples_total, host)")
CONTAINER = var_query("container", "Container",
                      'label_values(container_cpu_usage_seconds_total{host=~"$host"}, name)')
CLASS = var_query("class", "Class", "label_values(rcbench_loadgen_requests_total, class)")
# `host` is the target label `rcbench run --prometheus-sd-dir` (or the user's target files) set.
SEL_HOST = 'host=~"$host"'
SEL_CT = 'host=~"$host", name=~"$container"'
SEL_CLASS = 'class=~"$class"'


def overview():
    b = Board("rcbench-overview", "rcbench: testbed overview",
              "Hosts, experiment progress and the current run's factor values.",
              [var_datasource(), HOST])
    b.row("Experiment")
    b.panel("Runs planned", [("sum by (experiment) (rcbench_controller_runs_planned)",
                              "{{experiment}}")], kind="stat", w=6, h=5)
    b.panel("Runs remaining", [("sum by (experiment) (rcbench_controller_runs_remaining)",
                                "{{experiment}}")], kind="stat", w=6, h=5)
    b.panel("Runs finished by status", [(
        "sum by (status) (rcbench_controller_runs_finished_total)", "{{status}}")],
        kind="stat", w=6, h=5)
    b.panel("Current run's factor levels", [(
        "rcbench_controller_current_factor == 1", "{{factor}}={{level}}")],
        kind="table", w=6, h=5, description="One series per factor of the run in progress.")
    b.panel("Phase", [("rcbench_controller_phase == 1", "{{phase}}")], kind="stat", w=12, h=5)
    b.panel("Hosts up", [("rcbench_controller_host_up", "{{role}} {{host}}")], kind="stat",
            w=12, h=5)
    b.row("Hosts")
    b.panel("Agent samples/s", [(
        f"sum by (host) (rate(rcbench_agent_samples_total{{{SEL_HOST}}}[$__rate_interval]))",
        "{{host}}")], unit="ops", w=8, h=8)
    b.panel("Host CPU by mode", [(
        f"sum by (host, mode) (rate(rcbench_host_cpu_seconds_total{{{SEL_HOST}}}"
        "[$__rate_interval]))", "{{host}} {{mode}}")], unit="percentunit", w=16, h=8,
        stack=True, description="softirq is network processing no container is charged for.")
    b.panel("Load average", [(f"rcbench_host_load_average{{{SEL_HOST}}}",
                              "{{host}} {{window}}")], w=12)
    b.panel("Agent sampling cost", [(
        "histogram_quantile(0.99, sum by (host, le) (rate("
        f"rcbench_agent_sample_duration_seconds_bucket{{{SEL_HOST}}}[$__rate_interval])))",
        "{{host}} p99")], unit="s", w=12)
    return b


def containers():
    b = Board("rcbench-containers", "rcbench: per-container usage",
              "CPU, throttling, memory and sockets of each resource container.",
              [var_datasource(), HOST, CONTAINER])
    b.row("CPU")
    b.panel("CPU usage", [(
        f"sum by (name) (rate(container_cpu_usage_seconds_total{{{SEL_CT}}}[$__rate_interval]))",
        "{{name}}")], unit="percentunit", w=12, stack=True,
        description="1.0 = one CPU fully busy.")
    b.panel("CPU user / system", [
        (f"sum by (name) (rate(container_cpu_user_seconds_total{{{SEL_CT}}}[$__rate_interval]))",
         "{{name}} user"),
        (f"sum by (name) (rate(container_cpu_system_seconds_total{{{SEL_CT}}}"
         "[$__rate_interval]))", "{{name}} system")], unit="percentunit", w=12)
    b.panel("Throttled time", [(
        f"sum by (name) (rate(container_cpu_cfs_throttled_seconds_total{{{SEL_CT}}}"
        "[$__rate_interval]))", "{{name}}")], unit="percentunit", w=12)
    b.panel("Throttled periods", [(
        f"sum by (name) (rate(container_cpu_cfs_throttled_periods_total{{{SEL_CT}}}"
        "[$__rate_interval]))", "{{name}}")], unit="ops", w=12)
    b.row("Memory and tasks")
    b.panel("Memory working set", [(
        f"sum by (name) (container_memory_working_set_bytes{{{SEL_CT}}})", "{{name}}")],
        unit="bytes", w=12)
    b.panel("Memory usage", [(f"sum by (name) (container_memory_usage_bytes{{{SEL_CT}}})",
                              "{{name}}")], unit="bytes", w=12)
    b.row("Sockets")
    b.panel("TCP sockets by state", [(
        f"sum by (name, state) (rcbench_container_tcp_sockets{{{SEL_CT}}})",
        "{{name}} {{state}}")], w=24, stack=True)
    return b


def classes():
    b = Board("rcbench-classes", "rcbench: load and latency by priority class",
              "What each traffic class offered and got: throughput, latency, errors.",
              [var_datasource(), CLASS])
    b.row("Throughput")
    b.panel("Completed requests/s", [(
        f"sum by (class) (rate(rcbench_loadgen_requests_total{{{SEL_CLASS}}}[$__rate_interval]))",
        "{{class}}")], unit="reqps", w=12)
    b.panel("Errors/s by kind", [(
        f"sum by (class, kind) (rate(rcbench_loadgen_errors_total{{{SEL_CLASS}}}"
        "[$__rate_interval]))", "{{class}} {{kind}}")], unit="ops", w=12)
    b.row("Latency")
    for q in ("0.5", "0.99"):
        b.panel(f"Response time p{float(q) * 100:g} (generator)", [(
            f"histogram_quantile({q}, sum by (class, le) (rate("
            f"rcbench_loadgen_latency_seconds_bucket{{{SEL_CLASS}}}[$__rate_interval])))",
            "{{class}}")], unit="s", w=12)
    b.row("Server")
    b.panel("Server requests/s by class", [(
        f"sum by (class) (rate(rcbench_server_requests_total{{{SEL_CLASS}}}[$__rate_interval]))",
        "{{class}}")], unit="reqps", w=12)
    b.panel("CPU charged per class (user-level accounting)", [(
        "sum by (container) (rate(rcbench_server_container_cpu_seconds_total{accounting=\"user\"}"
        "[$__rate_interval]))", "{{container}}")], unit="percentunit", w=12)
    return b


def synflood():
    b = Board("rcbench-synflood", "rcbench: SYN flood and TCP counters",
              "Flood rate offered, what the listener dropped, and kernel TCP counters.",
              [var_datasource(), HOST])
    b.row("Flood")
    b.panel("SYN packets sent/s", [(
        "sum(rate(rcbench_loadgen_syn_packets_sent_total[$__rate_interval]))", "sent")],
        unit="pps", w=12)
    b.panel("Good-client throughput", [(
        "sum by (class) (rate(rcbench_loadgen_requests_total[$__rate_interval]))", "{{class}}")],
        unit="reqps", w=12)
    b.row("Kernel TCP")
    b.panel("Listen queue drops/s", [(
        f"sum by (host, counter) (rate(rcbench_host_tcp_events_total{{{SEL_HOST}, counter=~"
        '"ListenOverflows|ListenDrops|TCPReqQFullDrop"}[$__rate_interval]))',
        "{{host}} {{counter}}")], unit="ops", w=12)
    b.panel("SYN cookies/s", [(
        f"sum by (host, counter) (rate(rcbench_host_tcp_events_total{{{SEL_HOST}, counter=~"
        '"SyncookiesSent|SyncookiesRecv|SyncookiesFailed"}[$__rate_interval]))',
        "{{host}} {{counter}}")], unit="ops", w=12)
    b.panel("Opens and resets/s", [(
        f"sum by (host, counter) (rate(rcbench_host_tcp_events_total{{{SEL_HOST}, counter=~"
        '"ActiveOpens|PassiveOpens|EstabResets|OutRsts"}[$__rate_interval]))',
        "{{host}} {{counter}}")], unit="ops", w=12)
    b.panel("Softirq CPU (uncharged network work)", [(
        f"sum by (host) (rate(rcbench_host_cpu_seconds_total{{{SEL_HOST}, mode=\"softirq\"}}"
        "[$__rate_interval]))", "{{host}}")], unit="percentunit", w=12)
    return b


BOARDS = [overview, containers, classes, synflood]


def render():
    return {f"{b.uid}.json": json.dumps(b.json(), indent=2, sort_keys=True) + "\n"
            for b in (make() for make in BOARDS)}


def main():
    check = "--check" in sys.argv
    stale = []
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("stale dashboards (run dashboards/generate.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
