"""The matcher benchmark runs end to end on a small generated data set."""

from __future__ import annotations

import pytest

from bench import __main__ as bench_cli


def test_matcher_benchmark_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    options = ["--volunteers", "2000", "--requests", "120", "--loop-sample", "300"]
    assert bench_cli.main(["matcher", *options, "--scoring-requests", "20"]) == 0
    output = capsys.readouterr().out
    for figure in (
        "build in total",
        "memory: columns + grid + id map",
        "µs/request",
        "M pairs/s",
        "k pairs/s",
        "vectorised / per-pair loop",
        "batch of 100: retrieval + scoring + assignment",
        "value against greedy",
    ):
        assert figure in output


def test_unknown_benchmark_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_cli.main(["nonsense"]) == 2
    assert "unknown benchmark" in capsys.readouterr().out
