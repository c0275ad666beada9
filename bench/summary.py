"""Run every benchmark in bench/ and print one summary table at the end (``make bench``).

Run: ``.venv/bin/python bench/summary.py [script ...]`` (default: every ``bench/*.py`` except
helpers, whose names start with ``_``, this file and the ten-minute soak). Each script's
output is shown as it runs; lines of the form ``RESULT benchmark=<name> figure=<value>
[baseline=<value>] [ratio=<x>] [target=<=x or >=x] [met=yes|no] ...`` are collected into the
table (benchmark, figure, baseline, ratio, target, met?). Scripts that print no RESULT line
get a row saying so. The exit status is 1 if a script failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
COLUMNS = ("benchmark", "figure", "baseline", "ratio", "target", "met?")
# This file, and the soak: ten minutes of load is run on purpose (`bench/summary.py
# bench/soak.py` or `.venv/bin/python bench/soak.py`), not as part of every `make bench`.
SKIPPED_BY_DEFAULT = frozenset({Path(__file__).name, "soak.py"})


def parse_result(line: str) -> dict[str, str] | None:
    """The fields of a ``RESULT key=value ...`` line, or None for any other line."""
    if not line.startswith("RESULT "):
        return None
    fields = {}
    for part in line.split()[1:]:
        key, sep, value = part.partition("=")
        if sep:
            fields[key] = value
    return fields if "benchmark" in fields else None


def met(fields: dict[str, str]) -> str:
    # A script whose target is not a ratio bound (zero errors, flat memory) judges it itself.
    if fields.get("met") in ("yes", "no"):
        return "yes" if fields["met"] == "yes" else "NO"
    target, ratio = fields.get("target", ""), fields.get("ratio", "")
    if not target or not ratio:
        return ""
    try:
        value = float(ratio)
        if target.startswith("<="):
            return "yes" if value <= float(target[2:]) else "NO"
        if target.startswith(">="):
            return "yes" if value >= float(target[2:]) else "NO"
    except ValueError:
        pass
    return "?"


def row(fields: dict[str, str]) -> tuple[str, ...]:
    ratio = fields.get("ratio", "")
    return (
        fields["benchmark"],
        fields.get("figure", ""),
        fields.get("baseline", ""),
        f"{ratio}x" if ratio else "",
        fields.get("target", "").replace("<=", "<= ").replace(">=", ">= "),
        met(fields),
    )


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(COLUMNS), rule, *(line(cells) for cells in rows)])


def scripts(names: list[str]) -> list[Path]:
    if names:
        return [Path(name) for name in names]
    return sorted(
        path for path in BENCH.glob("*.py")
        if not path.name.startswith("_") and path.name not in SKIPPED_BY_DEFAULT
    )  # fmt: skip


def main() -> int:
    rows: list[tuple[str, ...]] = []
    failed = []
    for script in scripts(sys.argv[1:]):
        print(f"== bench/{script.name}", flush=True)
        process = subprocess.Popen(
            [sys.executable, "-u", str(script)], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert process.stdout is not None
        found = False
        for line in process.stdout:
            print(line, end="", flush=True)
            fields = parse_result(line.strip())
            if fields is not None:
                rows.append(row(fields))
                found = True
        if process.wait() != 0:
            failed.append(script.name)
            rows.append((script.stem, "FAILED", "", "", "", ""))
        elif not found:
            rows.append((script.stem, "(see its table above)", "", "", "", ""))
    print()
    print("Summary")
    print(table(rows))
    if failed:
        print(f"Failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
