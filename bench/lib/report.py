"""Markdown tables and the results file."""

import math
import os

RESULTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def number(value, digits=0):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def ratio(ours, theirs):
    """ours / theirs as '1.23×', or '—' when either is missing or zero."""
    if not ours or not theirs or math.isnan(ours) or math.isnan(theirs):
        return "—"
    return f"{ours / theirs:.2f}×"


def median(values):
    values = sorted(v for v in values if v is not None and not math.isnan(v))
    if not values:
        return float("nan")
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def header_lines(title, info, parameters):
    lines = [f"# {title}", "", f"- date: {info['date']}", f"- machine: {info['machine']}",
             f"- load average at start: {info['load']}",
             f"- grpc-ingress: {info['grpc-ingress']}",
             f"- peers: {info['nghttpx']}; {info['nginx']}; {info['haproxy']}"]
    lines += [f"- {name}: {value}" for name, value in parameters]
    return lines


def publish(text, file_name):
    """Prints the report and writes it to bench/results/file_name."""
    print()
    print(text)
    path = os.path.join(RESULTS_DIR, file_name)
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
    print(f"written to {path}")
