"""The node's life: `update`, `rollback`, `gc`, `pin`, `unpin`, `kargs`, `check`, `boot-ok`,
and what the node's own units run: `health`, `redboot`, `finalize`.

Every command that writes asks first on a terminal (or takes --yes), and
every command takes --json and --vg (act offline on a node's disks); the
unit-run ones act on the booted node only. The writers run under the
lifecycle lock (lifecycle/lock.py), taken by _locked before they open the
node, so two never interleave.
Each command imports its engine module only when it runs: `boot-ok` and
`health` run at every boot of a node and need neither blivet nor the image
tools.
"""

import functools
import importlib
import json
import os
import shutil
import subprocess
import sys

from org_ovirt_node.cli.output import emit_result, reporter_for
from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle.bootcount import DEFAULT_TRIES
from org_ovirt_node.lifecycle.node import Node, open_node, running_layer
from org_ovirt_node.progress import JsonReporter
from org_ovirt_node.util.namespace import private_mounts


def _engine(name):
    """The lifecycle module NAME, imported on first use."""
    return importlib.import_module(f"org_ovirt_node.lifecycle.{name}")


def _locked(func):
    """FUNC run under the lifecycle lock: a second writer is refused at once."""
    @functools.wraps(func)
    def run(args):
        held = _engine("lock").acquire(args.command)
        try:
            return func(args)
        finally:
            held.release()
    return run


def _common(parser, writes=True):
    parser.add_argument("--vg", help="act offline on this volume group's node (default: the "
                                     "VG tagged imgbased:vg)")
    parser.add_argument("--json", action="store_true", help="JSON for machines")
    if writes:
        parser.add_argument("--yes", "-y", action="store_true",
                            help="do not ask before writing to the node")


def register(subparsers):
    """Add the lifecycle subcommands."""
    parser = subparsers.add_parser("update", help="deploy a newer image as a new layer",
                                   description="Deploy IMAGE as a new base and layer; the "
                                               "boot default switches last. Or install the "
                                               "image-update package NAME from the "
                                               "repository URL, whose script does that.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="node image (squashfs)")
    source.add_argument("--package", metavar="NAME",
                        help="image-update package to install from --repo (e.g. "
                             "ovirt-node-ng-image-update); its script runs the update")
    parser.add_argument("--repo", metavar="URL",
                        help="the repository of --package: file:///DIR, http:// or https:// "
                             "(what ovirt-node image package --repo writes)")
    parser.add_argument("--unchanged-exit-77", action="store_true",
                        help=f"when the boot default is already a layer of the image, write "
                             f"nothing and exit {EXIT_UNCHANGED} (as rpm-ostree's)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument("--allow-other-os", action="store_true",
                        help="allow an image of another OS ID or major version")
    parser.add_argument("--allow-downgrade", action="store_true",
                        help="allow an image not newer than every base")
    parser.add_argument("--force", action="store_true",
                        help="deploy again an image whose layer failed to boot")
    parser.add_argument("--keep", type=int, help="images to keep after the update "
                                                 "(default: as recorded at install)")
    parser.add_argument("--tries", type=int,
                        help=f"boot attempts of the new layer before falling back "
                             f"(default {DEFAULT_TRIES})")
    parser.add_argument("--skip-persisted", action="append", default=[], metavar="NAME",
                        help="do not carry package NAME's local change into the new layer "
                             "(repeatable)")
    parser.add_argument("--no-persist", action="store_true",
                        help="carry no locally added or removed package into the new layer")
    parser.add_argument("--image-package", action="append", default=[], metavar="FILE",
                        help="record this image-update package (rpm or deb) in the new "
                             "layer's package database and lock the others (what the "
                             "package's own script passes; repeatable)")
    _common(parser)
    parser.set_defaults(func=run_update)

    parser = subparsers.add_parser("rollback", help="make an earlier layer the boot default")
    parser.add_argument("--to", metavar="LAYER", help="layer (or base) to boot")
    parser.add_argument("--force", action="store_true", help="even a layer marked bad")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (changed: false when LAYER is the boot default "
                             "already), write nothing")
    _common(parser)
    parser.set_defaults(func=_locked(run_rollback))

    parser = subparsers.add_parser("gc", help="remove the oldest images beyond --keep")
    parser.add_argument("--keep", type=int, help="images to keep (default: as recorded at "
                                                 "install, 2)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    _common(parser)
    parser.set_defaults(func=_locked(run_gc))

    for name, pinned in (("pin", True), ("unpin", False)):
        parser = subparsers.add_parser(name, help=f"{'keep' if pinned else 'stop keeping'} "
                                                  "a layer from gc")
        parser.add_argument("layer", metavar="LAYER")
        _common(parser)
        parser.set_defaults(func=_locked(run_pin), pinned=pinned)

    parser = subparsers.add_parser(
        "kargs", help="show or change a layer's kernel arguments",
        description="Show a layer's kernel arguments (the image's own and the local changes), "
                    "or change them in every boot entry of the layer. Edits apply in this "
                    "order: --replace, --delete, --append.")
    parser.add_argument("--append", action="append", default=[], metavar="ARG",
                        help="add ARG (K, K=V or K=\"V W\") at the end")
    parser.add_argument("--delete", action="append", default=[], metavar="ARG",
                        help="remove K (every K and K=...) or exactly K=V")
    parser.add_argument("--replace", action="append", default=[], metavar="K=V",
                        help="set the one value of K (K=OLD=NEW: replace exactly K=OLD)")
    parser.add_argument("--layer", help="layer to act on (default: the running one, else the "
                                        "boot default's)")
    _common(parser)
    parser.set_defaults(func=run_kargs)

    parser = subparsers.add_parser("check", help="named health checks of the node")
    _common(parser, writes=False)
    parser.set_defaults(func=run_check)

    parser = subparsers.add_parser("boot-ok", help="record that this boot is good (run by "
                                                   "the node after its health checks)")
    parser.add_argument("--json", action="store_true", help="JSON for machines")
    parser.set_defaults(func=_locked(run_boot_ok))

    parser = subparsers.add_parser("health", help="this boot's health verdict, green or red "
                                                  "(run by ovirt-node-health.service)")
    parser.add_argument("--json", action="store_true", help="JSON for machines")
    parser.set_defaults(func=run_health)

    parser = subparsers.add_parser("redboot", help="after a red verdict, reboot into the next "
                                                   "try or the fallback, when that helps")
    parser.add_argument("--dry-run", action="store_true", help="print the decision only")
    parser.add_argument("--json", action="store_true", help="JSON for machines")
    parser.set_defaults(func=_locked(run_redboot))

    parser = subparsers.add_parser("finalize", help="carry /etc edits made since an update "
                                                    "into its layer (run at shutdown)")
    parser.add_argument("--json", action="store_true", help="JSON for machines")
    parser.set_defaults(func=_locked(run_finalize))


EXIT_UNCHANGED = 77
"""`update --unchanged-exit-77`'s exit status when there is nothing to do."""


def _confirm_write(args, node, question, detail):
    """Go on to write NODE: --yes, or a y on a terminal; then make its /boot writable.

    Without a terminal and without --yes it refuses, and a "no" cancels:
    either way nothing was written.
    """
    if not args.yes:
        if not sys.stdin.isatty():
            raise NodeError(f"refusing to {question.rstrip('?').lower()} without "
                            "confirmation: pass --yes")
        if detail:
            print(detail, file=sys.stderr)
        if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
            raise NodeError("cancelled; nothing was written")
    node.make_writable()


def render_update_plan(plan):
    """Human text of an update plan."""
    data = plan.to_dict()
    lines = [f"Update {plan.from_layer} -> {plan.layer}",
             f"  create LVs: {plan.nvr} (base), {plan.layer} (layer)",
             f"  boot entry: {', '.join(data['boot_entry']['ids'])} "
             f"(fallback {plan.from_entry})",
             f"  options:    {plan.options}"]
    for item in plan.etc:
        lines.append(f"  /etc/{item.path}: {item.action} ({item.reason})")
    for point, paths in plan.var.items():
        lines += [f"  {point.rstrip('/')}/{path}: added (absent on the node)" for path in paths]
    if plan.packages is not None:
        lines += plan.packages.render()
    if plan.kernel_modules is not None:
        lines += plan.kernel_modules.render()
    for item in plan.gc["remove"]:
        lines.append(f"  gc removes {item['base']} ({', '.join(item['layers']) or 'no layer'})")
    lines += [f"  leftover of an interrupted update, removed first: {item}"
              for item in plan.leftovers]
    lines += [f"  PROBLEM: {problem}" for problem in plan.problems]
    return "\n".join(lines)


def run_update(args):
    """Run `ovirt-node update`: from --image under the lock, or --package from --repo."""
    if args.package is not None:
        return run_update_from_repo(args)
    if args.repo is not None:
        raise NodeError("--repo names the repository of --package; with --image give no --repo")
    return _locked(_update_from_image)(args)


def _update_from_image(args):
    from org_ovirt_node.util.safeio import check_input_file  # pylint: disable=import-outside-toplevel
    check_input_file(args.image, "image")
    update = _engine("update")
    options = update.UpdateOptions(image=args.image, allow_other_os=args.allow_other_os,
                                   allow_downgrade=args.allow_downgrade, force=args.force,
                                   keep=args.keep,
                                   tries=DEFAULT_TRIES if args.tries is None else args.tries,
                                   skip_persisted=tuple(args.skip_persisted),
                                   persist=not args.no_persist,
                                   image_packages=tuple(os.path.abspath(path) for path
                                                        in args.image_package))
    reporter = reporter_for(args)
    private_mounts()
    with open_node(args.vg) as node:
        plan = update.plan_update(node, options, reporter)
        if args.dry_run or isinstance(reporter, JsonReporter):
            # the plan before anything is written: all of --dry-run, and for machines
            # the first document of a real run too (a refusal included)
            emit_result(args, {"event": "plan", "plan": plan.to_dict()},
                        render_update_plan(plan))
        if plan.up_to_date and args.unchanged_exit_77:
            if not args.json:
                print(f"{plan.from_layer} (of {plan.nvr}) is the boot default already; "
                      "nothing was written")
            return EXIT_UNCHANGED
        if args.dry_run:
            return 1 if plan.problems else 0
        if plan.problems:
            raise NodeError("update refused, nothing was written: " + "; ".join(plan.problems))
        _confirm_write(args, node, f"Update to {plan.layer}?", render_update_plan(plan))
        result = update.apply_update(node, plan, options, reporter)
    if isinstance(reporter, JsonReporter):
        reporter.emit("result", **result)
    else:
        print(f"{result['layer']} is the boot default; {plan.from_layer} is its fallback")
        for path in result["etc_conflicts"]:
            print(f"conflict: /etc/{path} kept local; the image's is /etc/{path}.imgnew")
    return 0


# What only `update --image` can take: the package's own script runs
# `ovirt-node update --image IMAGE --image-package ... --yes` and passes nothing else.
_IMAGE_ONLY = (("--allow-other-os", "allow_other_os"), ("--allow-downgrade", "allow_downgrade"),
               ("--force", "force"), ("--keep", "keep"), ("--tries", "tries"),
               ("--skip-persisted", "skip_persisted"), ("--no-persist", "no_persist"),
               ("--image-package", "image_package"), ("--vg", "vg"))


def _cli_json(argv):
    """Run this CLI as a child with ARGV + --json: (exit status, its JSON lines, stderr).

    The child has its own lock and its own private mount namespace, so this
    process holds neither while the package manager runs the package's update.
    """
    child = subprocess.run([sys.executable, "-m", "org_ovirt_node.cli.main", *argv, "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           check=False)
    events = []
    for line in child.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return child.returncode, events, child.stderr


def _child_error(stderr, what):
    lines = [line for line in stderr.splitlines() if line.strip()]
    said = [line[len("ovirt-node: error: "):] for line in lines
            if line.startswith("ovirt-node: error: ")]
    return NodeError((said or lines or [f"{what} failed"])[-1])


def run_update_from_repo(args):
    """Run `ovirt-node update --package NAME --repo URL` (lifecycle/fromrepo.py)."""
    fromrepo = _engine("fromrepo")
    given = [flag for flag, key in _IMAGE_ONLY if getattr(args, key) not in (None, False, [])]
    if given:
        raise NodeError(f"{', '.join(given)} cannot go with --package: the package's own script "
                        "runs ovirt-node update --image IMAGE --yes on the booted node with "
                        "the defaults; give the image with --image instead")
    if args.repo is None:
        raise NodeError("--package needs --repo URL, the repository to install it from")
    if not running_layer():
        raise NodeError("--package runs on the booted node (/proc/cmdline has no img.bootid=); "
                        "offline, update with --image")
    fromrepo.check_request(args.package, args.repo)
    fmt = fromrepo.node_format()
    reporter = reporter_for(args)
    work = fromrepo.work_dir()
    try:
        reporter.step("download", f"Downloading {args.package} from {args.repo}")
        version, files = fromrepo.fetch(fmt, args.package, args.repo, work)
        image, records = fromrepo.extract(fmt, files, os.path.join(work, "root"))
        package = {"name": args.package, "version": version, "format": fmt, "repo": args.repo,
                   "files": [os.path.basename(path) for path in files],
                   "image": os.path.basename(image)}
        reporter.info(f"{args.package} {version} carries {package['image']}")
        preflight = ["update", "--image", image, "--dry-run"]
        preflight += [arg for record in records for arg in ("--image-package", record)]
        preflight += ["--unchanged-exit-77"] if args.unchanged_exit_77 else []
        if args.dry_run and not args.json:
            return subprocess.run([sys.executable, "-m", "org_ovirt_node.cli.main", *preflight],
                                  check=False).returncode
        code, events, stderr = _cli_json(preflight)
        plan = next((event["plan"] for event in events if event.get("event") == "plan"), None)
        if plan is None:
            raise _child_error(stderr, "the preflight")
        if args.json:
            emit_result(args, {"event": "plan", "plan": plan, "package": package}, "")
        if code == EXIT_UNCHANGED:
            if not args.json:
                print(f"{plan['from_layer']} (of {plan['nvr']}) is the boot default already; "
                      "nothing was written")
            return EXIT_UNCHANGED
        if args.dry_run:
            return code
        if plan["problems"]:
            raise NodeError("update refused, nothing was written: " + "; ".join(plan["problems"]))
        if not args.yes:
            if not sys.stdin.isatty():
                raise NodeError("refusing to update without confirmation: pass --yes")
            if input(f"Install {args.package} {version} (update to {plan['layer']})? "
                     "[y/N] ").strip().lower() not in ("y", "yes"):
                raise NodeError("cancelled; nothing was written")
        reporter.step("install", f"Installing {args.package} {version} with "
                                 f"{'apt-get' if fmt == 'deb' else 'dnf'}; its script runs "
                                 "the update")
        output = fromrepo.install(fmt, files, args.repo, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    code, events, stderr = _cli_json(["status"])
    if code != 0 or not events:
        raise _child_error(stderr, "ovirt-node status")
    status = events[-1]
    if status.get("default_layer") != plan["layer"]:
        raise NodeError(f"{args.package} {version} installed, but the boot default is "
                        f"{status.get('default_layer')}, not {plan['layer']}")
    result = {"layer": plan["layer"], "from_layer": plan["from_layer"],
              "default_entry": status.get("default_entry"),
              "fallback_entry": plan["boot_entry"]["fallback"],
              "etc_conflicts": plan["etc_conflicts"], "package": package, "output": output}
    if isinstance(reporter, JsonReporter):
        reporter.emit("result", **result)
    else:
        print(f"{result['layer']} is the boot default; {plan['from_layer']} is its fallback")
    return 0


def run_rollback(args):
    """Run `ovirt-node rollback`."""
    rollback = _engine("rollback")
    private_mounts()
    with open_node(args.vg) as node:
        plan = rollback.plan_rollback(node, args.to, args.force, current_ok=args.dry_run)
        if args.dry_run:
            changed = plan["to"] != plan["from"]
            emit_result(args, {"event": "plan", **plan, "changed": changed},
                        f"{plan['from']} -> {plan['to']} ({plan['entry']})" if changed else
                        f"{plan['to']} is the boot default already")
            return 0
        _confirm_write(args, node, f"Roll back to {plan['to']}?",
                       f"{plan['from']} -> {plan['to']} ({plan['entry']})")
        rollback.rollback(node, plan)
    emit_result(args, {"event": "result", **plan},
                f"{plan['to']} is the boot default (was {plan['from']})")
    return 0


def run_gc(args):
    """Run `ovirt-node gc`."""
    gc = _engine("gc")
    private_mounts()
    with open_node(args.vg) as node:
        plan = gc.plan_gc(node, args.keep)
        text = "\n".join([f"keep {plan['keep']}: {', '.join(plan['kept'])}"] +
                         [f"remove {item['base']} ({', '.join(item['layers']) or 'no layer'})"
                          for item in plan["remove"]])
        if args.dry_run:
            emit_result(args, {"event": "plan", "plan": plan}, text)
            return 0
        if plan["remove"]:
            _confirm_write(args, node, "Remove these images?", text)
        else:
            node.make_writable()        # only an interrupted update's leftovers may go
        removed = gc.gc(node, plan, reporter_for(args))
    emit_result(args, {"event": "result", "removed": removed, "kept": plan["kept"]},
                "removed: " + (", ".join(removed) or "nothing"))
    return 0


def run_pin(args):
    """Run `ovirt-node pin` / `unpin`."""
    private_mounts()
    verb = "pin" if args.pinned else "unpin"
    with open_node(args.vg) as node:
        _confirm_write(args, node, f"{verb.capitalize()} {args.layer}?", "")
        layer, changed = _engine("pins").set_pinned(node, args.layer, args.pinned)
        pinned = node.state().pinned
    emit_result(args, {"event": "result", "layer": layer, "changed": changed,
                       "pinned": pinned},
                f"{layer} {'is' if args.pinned else 'is not'} pinned"
                f"{'' if changed else ' (already)'}")
    return 0


def run_kargs(args):
    """Run `ovirt-node kargs`: show, or change under the lock, a layer's kernel arguments."""
    if args.append or args.delete or args.replace:
        return _locked(_change_kargs)(args)
    kargs = _engine("kargs")
    private_mounts()
    with open_node(args.vg) as node:
        result = kargs_of(kargs, node, args.layer)
    emit_result(args, {**result, "changed": False}, kargs.render(result))
    return 0


def kargs_of(kargs, node, layer):
    """describe() of LAYER (or the running or default one) of NODE."""
    layer = kargs.target_layer(node, layer)
    return kargs.describe(node, layer, kargs.image_args(node, layer, kargs.read_base_args))


def _change_kargs(args):
    kargs = _engine("kargs")
    private_mounts()
    with open_node(args.vg) as node:
        before = kargs_of(kargs, node, args.layer)
        effective = kargs.edit(before["effective"], args.append, args.delete, args.replace)
        changed = effective != before["effective"]
        if changed:
            _confirm_write(args, node, f"Change the kernel arguments of {before['layer']}?",
                           f"{' '.join(before['effective'])}\n-> {' '.join(effective)}")
            kargs.rewrite_entries(node, before["layer"], effective)
            state = node.state()
            if before["layer"] not in state.image_kargs and before["image"] is not None:
                state.remember_kargs(before["layer"], before["image"])
                node.save_state(state)
        result = kargs.describe(node, before["layer"], before["image"])
    emit_result(args, {"event": "result", **result, "changed": changed},
                kargs.render(result) + ("" if changed else "\n(no change)"))
    return 0


def run_check(args):
    """Run `ovirt-node check`: exit 0 when no check failed."""
    check = _engine("check")
    private_mounts()
    with open_node(args.vg) as node:
        results = check.run_checks(node)
    text = "\n".join(f"{result.status.upper():8} {result.name:11} {result.reason}"
                     for result in results)
    emit_result(args, {"checks": [result.to_dict() for result in results]}, text)
    return 1 if any(result.status == check.FAILED for result in results) else 0


def run_boot_ok(args):
    """Run `ovirt-node boot-ok` on the booted node (needs no LVM: /boot only)."""
    result = _engine("bootcount").boot_ok(_booted_node())
    text = f"{result['running']} booted well"
    if result["marked_bad"]:
        text += f"; {result['marked_bad']} failed to boot and is marked bad"
    emit_result(args, {"event": "result", **result}, text)
    return 0


def _booted_node():
    """The booted node's /boot as a Node without LVM (boot-ok and redboot need no more)."""
    return Node(None, "/boot", running_layer())


def run_health(args):
    """Run `ovirt-node health`: exit 0 when green, 1 when red."""
    health = _engine("health")
    layer = running_layer()
    if not layer:
        raise NodeError("health runs on a booted node: /proc/cmdline has no img.bootid=")
    private_mounts()
    result = health.run_health(layer)
    for line in health.journal_lines(result):
        print(line, file=sys.stderr)
    emit_result(args, result, health.render(result))
    return 0 if result["status"] == health.GREEN else 1


def run_redboot(args):
    """Run `ovirt-node redboot`: decide, say why, and reboot only when it helps."""
    decision = _engine("redboot").act(_booted_node(), dry_run=args.dry_run)
    text = decision["reason"]
    if decision["reboot"] and args.dry_run:
        text += " (dry run: not rebooting)"
    emit_result(args, decision, text)
    return 0


def run_finalize(args):
    """Run `ovirt-node finalize` (at shutdown): carry /etc edits into the staged layer."""
    finalize = _engine("finalize")
    if not running_layer():
        raise NodeError("finalize runs on a booted node: /proc/cmdline has no img.bootid=")
    private_mounts()
    with open_node() as node:
        result = finalize.finalize(node)
    lines = [f"carried /etc/{item['path']} ({item['action']})" for item in result["carried"]]
    lines += [f"conflict: /etc/{path} kept local; the image's is /etc/{path}.imgnew"
              for path in result["conflicts"]]
    emit_result(args, result, "\n".join(lines + [result["reason"]]))
    return 0
