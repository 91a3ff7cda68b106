"""`flowcache sim FILE ...`: run seeds of a scenario, report, and print how to replay failures.

Exit status: 0 every seed passed, 1 a check failed, 2 a bad scenario or
usage, 3 a seed did not replay identically (with --check-determinism).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from sim import runner
from sim.scenario import ScenarioError, load

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NONDETERMINISTIC = 0, 1, 2, 3
MAX_FAILURE_LINES = 12  # per seed, in the console; the report has them all


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2, as argparse does, with our prefix
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"flowcache sim: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flowcache sim", description="Run a simulation scenario under chosen seeds.")
    parser.add_argument("file", metavar="FILE", help="scenario TOML file")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, help="run this one seed (default: the scenario's seed)")
    seeds.add_argument("--seeds", type=int, metavar="K", help="run K seeds")
    parser.add_argument("--first-seed", type=int, metavar="S", help="first of the --seeds (default: the scenario's)")
    parser.add_argument("--jobs", type=int, default=1, metavar="J", help="seeds run in parallel processes")
    parser.add_argument("--buggify", choices=["on", "off", "random"], help="override the scenario's buggify")
    parser.add_argument("--duration", type=float, metavar="S", help="override the fault phase's virtual seconds")
    parser.add_argument("--heal", type=float, metavar="S", help="override the heal phase's virtual seconds")
    parser.add_argument("--trace", metavar="PATH", help="write trace events as JSON lines (per seed: PATH-N)")
    parser.add_argument("--history", metavar="PATH", help="write the client history as JSON lines")
    parser.add_argument("--report", metavar="PATH", help="write a JSON report of every seed")
    parser.add_argument("--check-determinism", action="store_true",
                        help="run each seed again in a fresh process and compare digests")
    parser.add_argument("--quiet", action="store_true", help="only failures and the summary")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        scenario = load(args.file)
    except ScenarioError as exc:
        print(f"flowcache sim: {exc}", file=err)
        return EXIT_USAGE
    problem = _usage_problem(args)
    if problem:
        print(f"flowcache sim: {problem}", file=err)
        return EXIT_USAGE
    if args.seed is not None:
        seeds = [args.seed]
    elif args.seeds is not None:
        first = args.first_seed if args.first_seed is not None else scenario.simulation["seed"]
        seeds = list(range(first, first + args.seeds))
    else:
        seeds = [scenario.simulation["seed"]]
    options = runner.RunOptions(buggify=args.buggify, duration=args.duration, heal=args.heal,
                                trace=args.trace, history=args.history)
    return Session(args, scenario, seeds, options, out, err).run()


def _usage_problem(args: Any) -> str | None:
    if args.first_seed is not None and args.seeds is None:
        return "--first-seed needs --seeds"
    if args.seeds is not None and args.seeds < 1:
        return "--seeds must be at least 1"
    if args.jobs < 1:
        return "--jobs must be at least 1"
    for name in ("seed", "first_seed"):
        value = getattr(args, name)
        if value is not None and value < 0:
            return f"--{name.replace('_', '-')} must not be negative"
    for name in ("duration", "heal"):
        value = getattr(args, name)
        if value is not None and value < 0:
            return f"--{name} must not be negative"
    return None


class Session:
    """One invocation: runs the seeds, shows progress, prints failures and the summary."""

    def __init__(self, args: Any, scenario: Any, seeds: list[int], options: runner.RunOptions,
                 out: TextIO, err: TextIO) -> None:
        self.args = args
        self.scenario = scenario
        self.seeds = seeds
        self.options = options
        self.out = out
        self.err = err
        self.results: list[runner.RunResult] = []
        self.divergences: dict[int, str] = {}
        self.virtual = 0.0
        self.started = runner.wall_clock()
        self.live = not args.quiet and hasattr(err, "isatty") and err.isatty()

    def run(self) -> int:
        jobs = min(self.args.jobs, len(self.seeds))
        mode = self.options.buggify or self.scenario.simulation["buggify"]
        if not self.args.quiet:
            span = f"seed {self.seeds[0]}" if len(self.seeds) == 1 else \
                f"{len(self.seeds)} seeds ({self.seeds[0]}..{self.seeds[-1]})"
            extra = ", checking determinism" if self.args.check_determinism else ""
            print(f"flowcache sim {self.args.file}: {self.scenario.name}, {span}, buggify {mode}, "
                  f"{jobs} job{'s' if jobs > 1 else ''}{extra}", file=self.out)
        try:
            for result, divergence in runner.run_many(self.args.file, self.seeds, self.options, jobs,
                                                       self.args.check_determinism):
                self._record(result, divergence)
        except KeyboardInterrupt:
            self._clear_progress()
            print("flowcache sim: interrupted", file=self.err)
            self._summary(interrupted=True)
            return EXIT_FAILED
        self._clear_progress()
        self._summary()
        if self.args.report:
            self._write_report()
        if self.divergences:
            return EXIT_NONDETERMINISTIC
        return EXIT_OK if all(r.passed for r in self.results) else EXIT_FAILED

    # -- per seed -------------------------------------------------------------------
    def _record(self, result: runner.RunResult, divergence: str | None) -> None:
        self.results.append(result)
        self.virtual += result.virtual_seconds
        if divergence is not None:
            self.divergences[result.seed] = divergence
        if not result.passed or divergence is not None:
            self._clear_progress()
            self._print_failure(result, divergence)
        elif not self.args.quiet and not self.live and len(self.seeds) == 1:
            self._print_pass(result)
        self._progress()

    def _print_pass(self, result: runner.RunResult) -> None:
        print(f"seed {result.seed}: passed ({result.operations} ops, {result.events} events, "
              f"{result.virtual_seconds:.1f} virtual s in {result.wall_seconds:.2f} s, digest {result.digest}, "
              f"buggify {'on' if result.buggify else 'off'})", file=self.out)

    def _print_failure(self, result: runner.RunResult, divergence: str | None) -> None:
        if not result.passed:
            print(f"FAIL seed {result.seed} (digest {result.digest}, buggify {'on' if result.buggify else 'off'}, "
                  f"t={result.virtual_seconds:.1f}, {result.operations} ops): "
                  f"{len(result.failures)} failure{'s' if len(result.failures) != 1 else ''}", file=self.out)
            if result.knobs:
                print("  buggified knobs: " + ", ".join(f"{k}={v}" for k, v in result.knobs.items()), file=self.out)
            lines = "\n".join(result.failures).splitlines()
            for line in lines[:MAX_FAILURE_LINES]:
                print(f"  {line}", file=self.out)
            if len(lines) > MAX_FAILURE_LINES:
                print(f"  ... {len(lines) - MAX_FAILURE_LINES} more lines (see --report)", file=self.out)
        if divergence is not None:
            print(f"NONDETERMINISTIC seed {result.seed}: {divergence}", file=self.out)
        print(f"  repro: {result.repro(self.options)}", file=self.out)

    # -- progress -------------------------------------------------------------------
    def _rates(self) -> tuple[float, float]:
        wall = max(runner.wall_clock() - self.started, 1e-9)
        return self.virtual / wall, 60.0 * len(self.results) / wall

    def _progress(self) -> None:
        if self.args.quiet or len(self.seeds) == 1:
            return
        done = len(self.results)
        failed = sum(1 for r in self.results if not r.passed)
        speed, per_minute = self._rates()
        line = (f"[{done:>{len(str(len(self.seeds)))}}/{len(self.seeds)}] failures {failed}  "
                f"{speed:.1f} virtual s per wall s  {per_minute:.1f} seeds/min")
        if self.live:
            self.err.write("\r" + line + "\x1b[K")
            self.err.flush()
        elif done == len(self.seeds) or done % max(1, len(self.seeds) // 10) == 0:
            print(line, file=self.err)

    def _clear_progress(self) -> None:
        if self.live:
            self.err.write("\r\x1b[K")
            self.err.flush()

    # -- the end --------------------------------------------------------------------
    def _summary(self, interrupted: bool = False) -> None:
        results = sorted(self.results, key=lambda r: r.seed)
        failed = [r for r in results if not r.passed]
        wall = runner.wall_clock() - self.started
        speed, per_minute = self._rates()
        status = "INTERRUPTED" if interrupted else ("FAILED" if failed or self.divergences else "PASSED")
        lines = [f"{status}: {len(results)} of {len(self.seeds)} seeds run, {len(results) - len(failed)} passed, "
                 f"{len(failed)} failed"
                 + (f", {len(self.divergences)} nondeterministic" if self.divergences else "")]
        if results:
            events = sum(r.events for r in results)
            ops = sum(r.operations for r in results)
            lines.append(f"  {self.virtual:.1f} virtual s in {wall:.1f} wall s ({speed:.1f}x real time), "
                         f"{per_minute:.1f} seeds/min, {ops} ops, {events} events")
            fired: dict[str, int] = {}
            for r in results:
                for site in r.buggify_sites:
                    fired[site] = fired.get(site, 0) + 1
            if fired:
                sites = ", ".join(f"{site} ({n} seeds)" for site, n in sorted(fired.items()))
                lines.append(f"  BUGGIFY sites fired: {sites}")
        if failed:
            lines.append("  failing seeds: " + " ".join(str(r.seed) for r in failed))
        if self.divergences:
            lines.append("  nondeterministic seeds: " + " ".join(str(s) for s in sorted(self.divergences)))
        print("\n".join(lines), file=self.out)

    def _write_report(self) -> None:
        results = sorted(self.results, key=lambda r: r.seed)
        report = {
            "scenario": self.scenario.name, "file": self.args.file,
            "options": {"buggify": self.options.buggify, "duration": self.options.duration,
                        "heal": self.options.heal},
            "passed": all(r.passed for r in results) and not self.divergences,
            "seeds": [],
        }
        for r in results:
            row = r.to_json()
            row["repro"] = r.repro(self.options)
            if self.args.check_determinism:
                row["deterministic"] = r.seed not in self.divergences
                if r.seed in self.divergences:
                    row["divergence"] = self.divergences[r.seed]
            report["seeds"].append(row)
        with open(self.args.report, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
            handle.write("\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
