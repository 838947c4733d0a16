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


def latency_report(
    bench: str, name: str, rounds: list[list[float]], note: str = "", *, limit_ms: float | None = None
) -> bool:
    """A timed request's p50, p95 and p99 in ms, each the median over the rounds of that round's
    percentile; with `limit_ms`, the p95's verdict against it. Whether the p95 passed (True with no limit)."""
    value = median([p95(values) for values in rounds])
    passed = limit_ms is None or value < limit_ms
    report(bench, f"{name}_p50", median([median(values) for values in rounds]), "ms", note)
    limit_note = "" if limit_ms is None else f"limit < {limit_ms:g} ms: {verdict(passed)}"
    report(bench, f"{name}_p95", value, "ms", limit_note)
    report(bench, f"{name}_p99", median([p99(values) for values in rounds]), "ms")
    return passed
