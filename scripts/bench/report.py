"""results.json -> results.csv and the Markdown tables (results.md)."""

import csv


def fmt_num(x):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    ax = abs(x)
    if ax >= 1e6:
        return f"{x / 1e6:.2f} M"
    if ax >= 1e4:
        return f"{x / 1e3:.0f} k"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def write_csv(results, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["section", "figure", "unit", "median", "min", "max", "runs", "better", "ratios"])
        for name, section in results["sections"].items():
            for fig in section.get("figures", []):
                w.writerow([name, fig["name"], fig["unit"], fig["median"], fig["min"], fig["max"],
                            len(fig["samples"]), fig["better"],
                            ";".join(f"{k}={v}" for k, v in fig["vs"].items())])


def markdown(results):
    m = results["machine"]
    lines = [f"# replink benchmark run {m['started_utc']}", "",
             f"Command: `{results['command']}`{' (quick mode: smoke run, numbers meaningless)' if results['quick'] else ''}",
             f"Machine: {m['cpu']}, {m['online_cpus']} online CPUs, {m['memory_gib']} GiB, kernel {m['kernel']}; "
             f"load average {m['load_average_at_start']} at start, {m.get('load_average_at_end', '?')} at end.",
             f"Appliance pairs: memif, link.window {results.get('window', 'default')}, workers.poll_us "
             f"{results.get('poll_us', 200)}.",
             f"Each figure: median of {results['runs']} run(s) [min – max]; ratios are 'times better than' the "
             f"baseline's median from the same run (higher is better for both directions).", ""]
    for name, section in results["sections"].items():
        lines.append(f"## {name} ({section.get('seconds', '?')} s)")
        lines.append("")
        if "skipped" in section:
            lines += [f"Skipped: {section['skipped']}", ""]
            continue
        if "error" in section:
            lines += [f"**Error**: {section['error']}", ""]
            continue
        lines += ["| figure | median | min – max | unit | vs baselines |", "| --- | ---: | ---: | --- | --- |"]
        for fig in section.get("figures", []):
            vs = ", ".join(f"{v:.2f}x vs {k}" for k, v in fig["vs"].items())
            extra = []
            if fig.get("payload_gbps") is not None:
                extra.append(f"{fig['payload_gbps']:.2f} Gbit/s payload")
            if fig.get("wire_bytes_per_page"):
                extra.append(f"{fig['wire_bytes_per_page']:.0f} B/page on the wire")
            if fig.get("p50_us") is not None:
                extra.append(f"p50 {fig['p50_us']:.0f} us")
            if fig.get("max_us") is not None:
                extra.append(f"max {fig['max_us']:.0f} us")
            if fig.get("failed_epochs"):
                extra.append(f"{fig['failed_epochs']} epochs failed or never completed: "
                             + "; ".join(fig.get("errors", [])))
            if fig.get("p90") is not None:
                extra.append(f"p90 {fig['p90']:.0f} ms")
            note = f" ({'; '.join(extra)})" if extra else ""
            lines.append(f"| {fig['name']}{note} | {fmt_num(fig['median'])} | {fmt_num(fig['min'])} – "
                         f"{fmt_num(fig['max'])} | {fig['unit']} | {vs} |")
        for n in section.get("notes", []):
            lines.append(f"\n{n}")
        lines.append("")
    return "\n".join(lines) + "\n"
