"""Compare bench/pricing.py of an earlier revision with the current one, in one run.

Checks the earlier revision (default e7ef473, the last commit before issue 8's clean-up) out
into a temporary git worktree, then runs its bench/pricing.py and the current one alternately,
`--rounds` times each (old, new, old, new, ...), with the same sizes and seed, each in its own
process with its own code first on the import path. Prints the figures of every run and the
ratios new/old of the medians: taps/s of pricing alone, and of pricing plus posting on each
database. On a shared machine absolute figures move with the load; ratios of interleaved runs
are what counts.

    python bench/compare_revisions.py [--revision e7ef473] [--rounds 2] [--accounts 5000]
                                      [--skip-sqlite] [--skip-postgres] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BEFORE_ISSUE_8 = "e7ef473"


def run_bench(tree: Path, args: argparse.Namespace, *, current: bool) -> dict[str, Any]:
    command = [
        sys.executable,
        str(tree / "bench" / "pricing.py"),
        "--accounts",
        str(args.accounts),
        "--seed",
        str(args.seed),
        "--feed",
        str(tree / "data" / "hanoi"),
    ]
    if current:
        # Fares v1 and the worker step came after the earlier revision
        command += ["--skip-v1", "--skip-worker"]
    for flag in ("skip_sqlite", "skip_postgres"):
        if getattr(args, flag):
            command.append("--" + flag.replace("_", "-"))
    if args.postgres_url:
        command += ["--postgres-url", args.postgres_url]
    # The tree's own packages first on the import path (before the installed checkout).
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench/pricing.py in {tree} failed:\n{done.stderr[-3000:]}")
    start = done.stdout.index("{")
    figures, _ = json.JSONDecoder().raw_decode(done.stdout[start:])
    return dict(figures)


def rates(figures: dict[str, Any]) -> dict[str, float]:
    found = {"pricing alone": float(figures["taps_per_second"])}
    for backend, run in figures.get("pricing_and_posting", {}).items():
        found[f"pricing+posting {backend}"] = float(run["taps_per_second"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revision", default=BEFORE_ISSUE_8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=None)
    args = parser.parse_args()
    if args.rounds < 1 or args.accounts < 1:
        sys.exit("Error: --rounds and --accounts must be at least 1")

    with tempfile.TemporaryDirectory(prefix="faregate-compare-") as scratch:
        old_tree = Path(scratch) / "old"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_tree), args.revision],
            check=True,
            capture_output=True,
        )
        try:
            runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
            for round_no in range(1, args.rounds + 1):
                for label, tree in (("old", old_tree), ("new", ROOT)):
                    figures = rates(run_bench(tree, args, current=label == "new"))
                    runs[label].append(figures)
                    print(f"round {round_no} {label}: {json.dumps(figures)}", file=sys.stderr)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)],
                check=False,
                capture_output=True,
            )

    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    medians = {
        label: {metric: statistics.median(run[metric] for run in found) for metric in found[0]}
        for label, found in runs.items()
    }
    ratios = {
        metric: round(medians["new"][metric] / medians["old"][metric], 2)
        for metric in medians["new"]
        if metric in medians["old"]
    }
    result = {
        "benchmark": "compare_revisions",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "old": args.revision,
        "new": revision,
        "accounts": args.accounts,
        "rounds": args.rounds,
        "runs": runs,
        "median_taps_per_second": medians,
        "ratio_new_to_old": ratios,
    }
    print(json.dumps(result, indent=2))
    print(
        "new/old (median of interleaved runs): "
        + ", ".join(f"{metric} {ratio:.2f}x" for metric, ratio in ratios.items())
    )


if __name__ == "__main__":
    main()
