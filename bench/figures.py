"""How benchmarks summarise and print what they measured: medians and percentiles, one line per figure."""

import statistics


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def report(bench: str, figure: str, value: float, unit: str, note: str = "") -> None:
    """One line per figure, aligned so that `make bench` output reads as a table."""
    shown = f"{value:>10.3f}" if isinstance(value, float) else f"{value:>10}"
    print(f"{bench:<20} {figure:<22} {shown} {unit:<6} {note}".rstrip(), flush=True)
