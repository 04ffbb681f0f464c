"""Benchmark of the free-text matcher on one core: median microseconds per match and matches/s.

Runs every utterance of ``tests/data/utterances.yaml`` through :class:`bot.domain.matcher.Matcher`
for several passes, timing each call with ``perf_counter_ns``. Three rows:

* ``cold``  - caches cleared before every pass (each text normalised and typo-corrected afresh;
  the per-word caches - typo corrections, warning terms starting with a word - still fill up
  within a pass, as they would in a running bot)
* ``uncached`` - no per-text result cache, per-word caches warm (steady state of new texts)
* ``cached`` - :meth:`Matcher.match` with its result cache (people repeat short answers)

With ``--data FILE`` the texts of a labelled set (``rows:`` of ``text``, such as
``tests/data/dev_en.yaml``) are used instead.

Run:  python benchmarks/bench_matcher.py [--passes N] [--data FILE]
Not a test: timing depends on the machine. Target: at least 20,000 matches/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content_loader import load_content  # noqa: E402
from bot.domain.matcher import Matcher, MatchResult  # noqa: E402


def utterances(path: Path | None = None) -> list[str]:
    if path is not None:
        rows = yaml.safe_load(path.read_text(encoding="utf-8"))["rows"]
        return [str(row["text"]) for row in rows]
    data = yaml.safe_load((ROOT / "tests" / "data" / "utterances.yaml").read_text(encoding="utf-8"))
    texts: list[str] = []
    for group in ("areas", "warnings"):
        for items in data[group].values():
            texts += [str(t) for t in items]
    texts += [str(t) for t in data["out_of_scope"]]
    texts += [str(c["text"]) for c in data["close_calls"]]
    return texts


def timed(
    texts: list[str], passes: int, call: Callable[[str], MatchResult], before: Callable[[], None]
) -> list[int]:
    samples: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(passes):
        before()
        for text in texts:
            start = clock()
            call(text)
            samples.append(clock() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--data", type=Path, default=None, help="a labelled set with rows of text")
    args = parser.parse_args()

    texts = utterances(args.data)
    start = time.perf_counter()
    content = load_content()
    loaded = time.perf_counter()
    matcher = Matcher(content)
    load_ms = (loaded - start) * 1000
    build_ms = (time.perf_counter() - loaded) * 1000

    def nothing() -> None:
        pass

    rows = [
        ("cold", timed(texts, args.passes, matcher.match_uncached, matcher.clear_caches)),
        ("uncached", timed(texts, args.passes, matcher.match_uncached, nothing)),
        ("cached", timed(texts, args.passes, matcher.match, nothing)),
    ]
    print(f"matcher benchmark: {len(texts)} utterances x {args.passes} passes, one core")
    print(f"content load: {load_ms:.1f} ms, index build: {build_ms:.1f} ms\n")
    print(f"{'mode':<10} {'median µs':>10} {'p95 µs':>8} {'mean µs':>8} {'matches/s':>11}")
    for name, samples in rows:
        median = statistics.median(samples) / 1000
        p95 = statistics.quantiles(samples, n=20)[-1] / 1000
        mean = statistics.fmean(samples) / 1000
        print(f"{name:<10} {median:>10.1f} {p95:>8.1f} {mean:>8.1f} {1e6 / mean:>11,.0f}")
    print("\nmatches/s = 1 / mean time per match; target >= 20,000")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
