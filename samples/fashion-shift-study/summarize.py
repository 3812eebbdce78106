#!/usr/bin/env python3
"""Mean ± spread of ID and OOD accuracy per method over several `levi-cl demo`
runs (their results.json files), as a Markdown table.

usage: summarize.py RESULTS.json [RESULTS.json ...]

The spread is the sample standard deviation over seeds (0 for one seed);
the min–max range is printed beside it. Only the Python standard library."""
import json
import statistics
import sys


def fmt(values):
    if not values:
        return "–"
    mean = statistics.mean(values) * 100
    sd = statistics.stdev(values) * 100 if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {sd:.1f} ({min(values) * 100:.1f}–{max(values) * 100:.1f})"


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    order, acc = [], {}
    runs = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"summarize.py: {path}: {e}", file=sys.stderr)
            return 1
        runs.append(doc)
        for row in doc.get("methods", []):
            name = row["method"]
            if name not in acc:
                order.append(name)
                acc[name] = {"id": [], "ood": [], "time": []}
            for key, field in (("id", "id_acc"), ("ood", "ood_acc"), ("time", "train_s")):
                v = row.get(field)
                if isinstance(v, (int, float)) and v >= 0:
                    acc[name][key].append(float(v))
    seeds = sorted({r.get("seed") for r in runs})
    sizes = sorted({r.get("size", "?") for r in runs})
    devices = sorted({r.get("device", "?") for r in runs})
    bench = sorted({r.get("benchmark", "fashion-shift") for r in runs})
    print(f"{', '.join(bench)} study: {len(runs)} runs (seeds {', '.join(map(str, seeds))}), "
          f"size {', '.join(sizes)}, device {', '.join(devices)}")
    print()
    print("| method | ID accuracy % | OOD accuracy % | OOD − ID | train time s | seeds |")
    print("|---|---|---|---|---|---|")
    for name in order:
        a = acc[name]
        gap = "–"
        if a["id"] and a["ood"] and len(a["id"]) == len(a["ood"]):
            gap = f"{statistics.mean(o - i for i, o in zip(a['id'], a['ood'])) * 100:+.1f}"
        t = f"{statistics.mean(a['time']):.1f}" if a["time"] else "–"
        print(f"| {name} | {fmt(a['id'])} | {fmt(a['ood'])} | {gap} | {t} | {len(a['id'])} |")
    print()
    print("mean ± sample standard deviation over seeds (min–max in parentheses)")
    # LEVI minus each baseline, paired by seed (the runs are in seed order)
    if "levi" in acc and len(acc["levi"]["ood"]) > 1:
        print()
        for name in order:
            a, b = acc["levi"], acc[name]
            if name == "levi" or len(b["ood"]) != len(a["ood"]) or len(b["id"]) != len(a["id"]):
                continue
            d_id = [(x - y) * 100 for x, y in zip(a["id"], b["id"])]
            d_ood = [(x - y) * 100 for x, y in zip(a["ood"], b["ood"])]
            print(f"levi − {name} (paired by seed): ID {statistics.mean(d_id):+.1f} ± {statistics.stdev(d_id):.1f}, "
                  f"OOD {statistics.mean(d_ood):+.1f} ± {statistics.stdev(d_ood):.1f}  ")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
