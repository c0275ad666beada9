"""Soak: benchmark 7's mixed workload for 10 minutes, with the memory of every process sampled.

Run: ``.venv/bin/python bench/soak.py [--minutes 10] [--connections 50]`` (needs ``wrk``,
PostgreSQL and Redis; the same stack and data as ``bench/http_mixed.py``, dropped on exit or
Ctrl-C). Every ``--interval`` seconds (10) it reads VmRSS from ``/proc/<pid>/status`` of each
Patron process: ``patron run``, the uvicorn supervisor and its workers, the Celery worker and
its pool processes. It prints each process's RSS at the start, its maximum, at the end, and
its slope in MB per minute after the warm-up (least squares over the samples after
``--warmup-minutes``), then the error count of the workload.

Flat memory: every process's slope after warm-up under ``--bound`` MB/min (default 1.0).
Why that bound: at the workload's ~50-100 requests/s a process serves 1,500-3,000 requests a
minute, so a leak of even 500 bytes per request (one small dict or model instance kept) grows
it by 0.75-1.5 MB/min; what stays under the bound is the allocator settling and caches filling
up to their limits, which levels off. The slope is measured after the warm-up because imports,
connection set-up and the first renders of every template fill memory in the first minutes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The bench folder is not a package: its scripts import each other by file name.
from http_mixed import (
    ConnectionWatch,
    Stack,
    machine,
    parse_wrk,
    print_header,
    print_result,
    running_stack,
    start_wrk,
)


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


@dataclass
class Series:
    label: str
    samples: list[tuple[float, float]] = field(default_factory=list)  # (minutes, MB)

    def slope(self, after: float) -> float:
        """MB per minute by least squares over the samples taken after ``after`` minutes."""
        points = [(t, mb) for t, mb in self.samples if t >= after]
        if len(points) < 3:
            return 0.0
        mean_t = sum(t for t, _ in points) / len(points)
        mean_mb = sum(mb for _, mb in points) / len(points)
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        if spread == 0:
            return 0.0
        return sum((t - mean_t) * (mb - mean_mb) for t, mb in points) / spread


def sample(stack: Stack, series: dict[int, Series], minutes: float) -> float:
    total = 0.0
    for pid, label in stack.processes().items():
        mb = rss_mb(pid)
        if mb is None:
            continue
        series.setdefault(pid, Series(label)).samples.append((minutes, mb))
        total += mb
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (10)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup-minutes", type=float, default=2.0)
    parser.add_argument("--bound", type=float, default=1.0, help="flat: slope under MB/min")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the added records")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    seconds = max(1, round(args.minutes * 60))

    with running_stack(workers=args.workers, redis=args.redis, label="soak", scale=args.scale) as (
        stack,
        data,
    ):
        series: dict[int, Series] = {}
        totals = Series("all Patron processes")
        watch = ConnectionWatch(stack)
        watch.start()
        wrk = start_wrk(
            stack, data, duration=seconds, connections=args.connections, threads=args.threads
        )
        started = time.monotonic()
        next_report = 0.0
        try:
            while wrk.poll() is None:
                minutes = (time.monotonic() - started) / 60
                total = sample(stack, series, minutes)
                totals.samples.append((minutes, total))
                if minutes >= next_report:
                    print(
                        f"  {minutes:5.1f} min: {total:7.1f} MB in {len(stack.processes())} "
                        f"processes, {watch.peak} database connections at most so far",
                        flush=True,
                    )
                    next_report += 1.0
                time.sleep(args.interval)
        finally:
            if wrk.poll() is None:
                wrk.terminate()
        output = wrk.communicate()[0]
        watch.stopped.set()
        result = parse_wrk(output)
        problems = stack.log_problems()

    print(
        f"\nSoak: {args.minutes:g} min of the mixed workload, wrk {args.threads} threads x "
        f"{args.connections} connections, patron run --workers {args.workers}; {machine()}"
    )
    print_header()
    print_result("mixed workload", result)
    print(f"peak database connections: {watch.peak}")
    print(f"server/worker log lines reporting errors: {len(problems)}")
    for line in problems[:20]:
        print(f"  {line}")
    print(
        f"\nRSS (MB), sampled every {args.interval:g} s; slope after {args.warmup_minutes:g} min "
        f"of warm-up"
    )
    print(f"{'process':<28}{'pid':>8}{'start':>9}{'max':>9}{'end':>9}{'MB/min':>9}")
    worst = 0.0
    for pid, one in sorted(series.items(), key=lambda item: item[1].label):
        values = [mb for _, mb in one.samples]
        slope = one.slope(args.warmup_minutes)
        worst = max(worst, slope)
        print(
            f"{one.label:<28}{pid:>8}{values[0]:>9.1f}{max(values):>9.1f}{values[-1]:>9.1f}"
            f"{slope:>9.2f}"
        )
    values = [mb for _, mb in totals.samples]
    print(
        f"{totals.label:<28}{'':>8}{values[0]:>9.1f}{max(values):>9.1f}{values[-1]:>9.1f}"
        f"{totals.slope(args.warmup_minutes):>9.2f}"
    )
    flat = worst < args.bound
    print(
        f"memory {'flat' if flat else 'GROWING'}: the steepest process grows "
        f"{worst:.2f} MB/min after warm-up (bound {args.bound:g} MB/min); "
        f"errors: {result.errors}"
    )
    met = flat and result.errors == 0 and not problems
    print(
        f"RESULT benchmark=soak name=soak figure={worst:.2f}MB/min "
        f"baseline={args.bound:g}MB/min "
        f"ratio={worst / args.bound:.2f} target=<=1 errors={result.errors} "
        f"met={'yes' if met else 'no'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
