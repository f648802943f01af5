"""`ovirt-node ks validate`: stock kickstart checks for a version, our
section, and the node rules, as one Report of errors and warnings."""

from org_ovirt_node.ks.reader import DEFAULT_VERSION, read_kickstart
from org_ovirt_node.ks.report import Report
from org_ovirt_node.ks.rules import node_findings


def validate_file(path, version=DEFAULT_VERSION):
    """The Report for the kickstart at PATH. NodeError only for a bad VERSION."""
    parsed = read_kickstart(path, version)
    report = Report(list(parsed.findings))
    # Node rules need the whole file; a parse that stopped early already
    # carries the error that stopped it.
    if parsed.complete and parsed.source.lines:
        report.extend(node_findings(parsed))
    return report


def validate_files(paths, version=DEFAULT_VERSION):
    """One Report over every kickstart in PATHS."""
    report = Report()
    for path in paths:
        report.extend(validate_file(path, version).findings)
    return report
