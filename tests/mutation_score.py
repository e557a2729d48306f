"""The figures of a `mutmut run` (`./dev mutation`): one line per mutated module and a total.

    app/scheduling.py killed=193 survived=13 timeout=0 score=100.0% equivalent=13 raw=93.7%

Detected mutants are the killed ones and those that hung past mutmut's time limit;
survivors include mutants no test reached. `equivalent` counts the survivors that
mutation-equivalents.txt lists as unable to change behaviour. score is the usual mutation
score, detected / (all - equivalent); raw is detected / all. An entry whose reason starts
with "NOT equivalent" names a survivor no deterministic test can kill: it is accepted but
still counts against the score. Survivors the list does not name are printed first and
make the exit status 1, as does a score under TARGET_PERCENT.
Mutants a partial run (`./dev mutation 'app.scheduling*'`) did not check are left out.
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "mutation-equivalents.txt"
TARGET_PERCENT = 90.0
NOT_EQUIVALENT = "NOT equivalent"


@dataclass
class ModuleScore:
    path: str
    killed: int = 0
    timeout: int = 0
    survivors: dict[str, str] = field(default_factory=dict)  # mutant name -> status

    @property
    def checked(self) -> int:
        return self.killed + self.timeout + len(self.survivors)

    def equivalent(self, equivalents: dict[str, str]) -> int:
        return sum(
            not equivalents.get(name, NOT_EQUIVALENT).startswith(NOT_EQUIVALENT)
            for name in self.survivors
        )

    def percent(self, equivalents: dict[str, str] | None = None) -> float:
        """Detected share of the mutants, leaving out the listed equivalents if given."""
        detected = self.killed + self.timeout
        judged = self.checked - (self.equivalent(equivalents) if equivalents else 0)
        return 100.0 * detected / judged if judged else 100.0

    def line(self, equivalents: dict[str, str]) -> str:
        return (
            f"{self.path} killed={self.killed} survived={len(self.survivors)} "
            f"timeout={self.timeout} score={self.percent(equivalents):.1f}% "
            f"equivalent={self.equivalent(equivalents)} raw={self.percent():.1f}%"
        )


def mutated_paths() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def read_equivalents() -> dict[str, str]:
    """Mutant name -> reason, from the lines of EQUIVALENTS that are not comments."""
    listed: dict[str, str] = {}
    for line in EQUIVALENTS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, reason = line.strip().partition(" ")
            listed[name] = reason.strip()
    return listed


def module_score(path: str) -> ModuleScore:
    score = ModuleScore(path)
    meta = ROOT / "mutants" / f"{path}.meta"
    if not meta.exists():
        return score
    for name, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
        status = status_by_exit_code[exit_code]
        if status == "killed":
            score.killed += 1
        elif status == "timeout":
            score.timeout += 1
        elif status not in ("not checked", "skipped"):
            score.survivors[name] = status
    return score


def main() -> int:
    equivalents = read_equivalents()
    scores = [s for s in map(module_score, mutated_paths()) if s.checked]
    if not scores:
        print("no mutation results under mutants/: run `./dev mutation` first", file=sys.stderr)
        return 1
    unlisted = [
        (name, status)
        for s in scores
        for name, status in s.survivors.items()
        if name not in equivalents
    ]
    for name, status in unlisted:
        print(f"{status} and not in {EQUIVALENTS.name}: {name}  (mutmut show {name})")
    checked_modules = {s.path.removesuffix(".py").replace("/", ".") + "." for s in scores}
    killed_after_all = [
        name
        for name in equivalents
        if name.startswith(tuple(checked_modules)) and not any(name in s.survivors for s in scores)
    ]
    for name in killed_after_all:
        print(f"listed in {EQUIVALENTS.name} but not a survivor of this run: {name}")
    for s in scores:
        print(s.line(equivalents))
    total = ModuleScore(
        "total",
        killed=sum(s.killed for s in scores),
        timeout=sum(s.timeout for s in scores),
        survivors={name: status for s in scores for name, status in s.survivors.items()},
    )
    print(total.line(equivalents))
    below = [s.path for s in scores if s.percent(equivalents) < TARGET_PERCENT]
    if below:
        print(f"under the {TARGET_PERCENT:.0f}% target: {', '.join(below)}")
    return 1 if unlisted or below else 0


if __name__ == "__main__":
    sys.exit(main())
