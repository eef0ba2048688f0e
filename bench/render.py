"""Render the benchmark table from bench/results/*.json (the newest file per scenario)
and write it between the bench markers of docs/benchmarks.md.

    python bench/render.py          # rewrite docs/benchmarks.md
    python bench/render.py --print  # print the table only
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
ORDER = ["fanout-1", "fanout-10", "fanout-10-filtered", "fanout-10-ed25519", "steady-200",
         "steady-500", "hanging-1-of-10", "flood-isolation", "slow-tenant", "ordered-fanout",
         "outage", "worker-kill", "incidents-ingest", "pacs-relay"]
WHAT = {
    "fanout-1": "1 endpoint, events published flat out in transactions of 100",
    "fanout-10": "10 endpoints, events published flat out in transactions of 100",
    "fanout-10-filtered": "fanout-10's load with a 5-clause payload filter on every endpoint "
    "that every event passes: the publisher's CPU per event over fanout-10's in the same run",
    "fanout-10-ed25519": "fanout-10's load with every endpoint signing with ed25519 (v1a) "
    "instead of HMAC: CPU per delivery over fanout-10's in the same run",
    "steady-200": "200 events/s, one per transaction: commit-to-receipt p99",
    "steady-500": "500 events/s, one per transaction (4 publisher threads): commit-to-receipt "
    "p99",
    "flood-isolation": "50 events/s to one domain while another domain's Box posts counter "
    "reports flat out (100 per request, 3 clients): p99 during the flood / p99 without",
    "hanging-1-of-10": "1 of 10 endpoints never answers: healthy p99 / normal p99",
    "slow-tenant": "a domain at 20 events/s beside another whose 12 endpoints answer after "
    "2 s with 6,000 due: p99 beside it / p99 alone",
    "worker-kill": "SIGKILL the delivery workers with 300 claimed, start them again 5 s later: "
    "the longest gap between receipts from the kill to the last one",
    "ordered-fanout": "fanout-1's load to a per_key endpoint, 100 keys: deliveries/s as a share "
    "of the same run's unordered fanout-1",
    "outage": "the receiver answers 500 for 15 s, longer than the whole compressed retry "
    "schedule (4 s), then 200; breaker at 10 failures, probes every 1-2 s",
    "incidents-ingest": "Boxes post batches of 100 reports x 50 cameras x 6 counters (5 % "
    "non-zero) over HTTP; stored and evaluated (`bench/incidents.py`)",
    "pacs-relay": "2 gateways post batches of 500 OnGuard events for unmapped readers over "
    "HTTP; stored and relayed, 100 per callback (`bench/pacs.py`)",
}
PAGE = ROOT / "docs" / "benchmarks.md"
PROFILE = "#where-the-cpu-goes"  # links are relative to PAGE


def newest() -> list[dict]:
    found: dict[str, dict] = {}
    for path in (ROOT / "bench" / "results").glob("*.json"):
        record = json.loads(path.read_text())
        record["file"] = str(path.relative_to(ROOT))
        current = found.get(record["scenario"])
        if current is None or record["date"] > current["date"]:
            found[record["scenario"]] = record
    return [found[name] for name in ORDER if name in found]


def _extra(r: dict) -> str:
    f = r["figures"]
    if r["scenario"] in ("steady-200", "steady-500"):
        return f" (p50 {f['latency_p50_ms']} ms)"
    if r["scenario"] == "incidents-ingest":
        return (f" (ingest alone {f['ingest_values_per_s']}/s; backlog when posting "
                f"stopped {f['backlog_at_stop']} reports, at the end {f['backlog_at_end']})")
    if r["scenario"] == "pacs-relay":
        return (f" (ingest alone {f['ingest_events_per_s']}/s; {f['callbacks']} callbacks, "
                f"all received after {f['seconds_delivered']} s; backlog when posting "
                f"stopped {f['backlog_at_stop']}, at the end {f['backlog_at_end']})")
    if r["scenario"] == "hanging-1-of-10":
        return f" ({f['latency_p99_ms']} ms vs {f['normal_p99_ms']} ms)"
    if r["scenario"] == "fanout-10-filtered":
        return (f" (publisher {f['cpu']['cpu_ms_per_unit']['publisher']} ms vs "
                f"{f['fanout_10']['cpu']['cpu_ms_per_unit']['publisher']} ms per delivery; "
                f"PostgreSQL {f['postgresql_percent_over_fanout_10']:+} %)")
    if r["scenario"] == "fanout-10-ed25519":
        return (f" ({f['cpu']['cpu_ms_per_unit_total']} ms vs "
                f"{f['fanout_10']['cpu']['cpu_ms_per_unit_total']} ms per delivery; delivery "
                f"workers {f['workers_percent_over_fanout_10']:+} %)")
    if r["scenario"] == "ordered-fanout":
        return f" ({f['throughput']}/s vs {f['unordered_throughput']}/s unordered)"
    if r["scenario"] == "outage":
        return (f" of {f['events']}; attempts while down {f['attempts_during_outage']}: "
                f"{f['attempts_before_the_circuit_opened']} before the circuit opened, then "
                f"{f['probes_during_outage']} probes and "
                f"{f['non_probe_attempts_after_the_first_probe']} others; drained "
                f"{f['seconds_recovery_to_drained']} s after recovery "
                f"({f['drain_deliveries_per_s']}/s)")
    if r["scenario"] == "slow-tenant":
        return f" ({f['slow_tenant_p99_ms']} ms vs {f['calm_p99_ms']} ms)"
    if r["scenario"] == "worker-kill":
        return (f" ({f['claimed_at_kill']} claimed at the kill; first receipt "
                f"{f['first_receipt_after_kill_s']} s after it)")
    if r["scenario"] == "flood-isolation":
        return (f" ({f['flood_p99_ms']} ms vs {f['calm_p99_ms']} ms; "
                f"{f['flood_reports_posted']} reports posted)")
    return ""


def _cpu(r: dict) -> str:
    if "cpu_ms_per_delivery" not in r:
        return "—"
    text = f"{r['cpu_ms_per_delivery']:.3f} ms ({r['cpu_per_delivery_over_ceiling']}x)"
    if "cpu_met" in r:
        text += f", target <= {r['cpu_target']}x: " + ("met" if r["cpu_met"] else "**missed**")
    if "cpu_ms_met" in r:
        text += f", target <= {r['cpu_ms_target']} ms: " + (
            "met" if r["cpu_ms_met"] else "**missed**")
    if not r["figures"]["cpu"]["accounted"]:
        text += " (components " + f"{r['figures']['cpu']['components_over_machine']:.0%}" + \
            " of machine busy: not all accounted)"
    return text


def table(records: list[dict]) -> str:
    lines = ["| scenario | what | target | measured | result | deliveries/s (% of ceiling) | "
             "CPU per delivery (x ceiling's per request) | ceiling req/s (CPU ms/req) | run |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        result = "met" if r["met"] else f"**missed** ([profile]({PROFILE}))"
        throughput = "—"
        if r.get("deliveries_per_s") is not None:
            throughput = f"{r['deliveries_per_s']} ({r['percent_of_ceiling']} %)"
        ceiling = "—"
        if r.get("ceiling_requests_per_s"):
            ceiling = f"{r['ceiling_requests_per_s']} ({r['ceiling_cpu_ms_per_request']:.3f})"
        lines.append(
            f"| `{r['scenario']}` | {WHAT[r['scenario']]} | {r['sense']} {r['target']} "
            f"{r['unit']} | {r['measured']} {r['unit']}{_extra(r)} | {result} | {throughput} | "
            f"{_cpu(r)} | {ceiling} | [{r['git']}, {r['date'][:10]}](../{r['file']}) |")
    if records:
        m = records[0]["machine"]
        lines.append("")
        lines.append(f"Measured on {m['cpus']} vCPUs ({m['cpu']}), {m['memory_gb']} GB, Python "
                     f"{m['python']}, PostgreSQL {m['postgresql'].split()[0]}, Redis "
                     f"{m['redis'].removeprefix('v=')}; {records[0].get('layout', '')}. The "
                     "ceiling is an aiohttp client with 50 requests in flight against the same "
                     "receiver in the same run, with a body the scenarios' size; CPU is read "
                     "from /proc for every process of the run (publisher, workers, beat, "
                     "receiver, PostgreSQL, Redis) and checked against /proc/stat.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", dest="only_print")
    args = parser.parse_args()
    text = table(newest())
    if args.only_print:
        print(text)
        return
    content = PAGE.read_text()
    before, _, rest = content.partition(START)
    _, _, after = rest.partition(END)
    PAGE.write_text(f"{before}{START}\n{text}\n{END}{after}")
    print(text)


if __name__ == "__main__":
    main()
