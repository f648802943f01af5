"""What the validator found: errors and warnings, each at a file and line.

One Finding per problem, so the CLI can print `file:line: error: message`,
`--json` can hand the same list to a CI pipeline, and tests can assert on it.
"""

import json
from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem. LINE is None only when the file itself cannot be read."""

    severity: str
    file: str
    line: object
    message: str

    def __str__(self):
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.severity}: {self.message}"


@dataclass
class Report:
    """All findings of one validation run, in file and line order."""

    findings: list = field(default_factory=list)

    @property
    def errors(self):
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self):
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self):
        """True when there is no error (warnings do not fail a kickstart)."""
        return not self.errors

    def extend(self, findings):
        self.findings.extend(findings)

    def sorted(self):
        """The findings ordered by file, then line."""
        return sorted(self.findings, key=lambda f: (f.file, f.line or 0))

    def to_json(self):
        """The report as a JSON document for CI pipelines."""
        return json.dumps({"ok": self.ok, "errors": len(self.errors),
                           "warnings": len(self.warnings),
                           "findings": [asdict(f) for f in self.sorted()]},
                          indent=2, sort_keys=True)
