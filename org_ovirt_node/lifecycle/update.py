"""`ovirt-node update`: a new image as a new base and layer, switched to last.

The steps, each named in the progress output:
  preflight  read-only: image, identity, version, space, /etc merge, /var,
             boot entry and gc plans (what --dry-run prints)
  base       the install's block-wise deploy into a new thin LV <nvr>
  layer      the writable snapshot <nvr>+1, made exactly as install makes it
  etc        three-way /etc merge (etcmerge.py); conflicts keep the local
             file and get the image's beside it as <file>.imgnew
  var        volumes the image needs and the node lacks are created
             (newvolumes.py); what the image adds under /var and the other
             volumes is copied in where absent; nothing there is rewritten
  packages   the packages the node added or removed (its package database
             against its base's) are reinstalled or removed in the new layer,
             chrooted, from files kept on /var (persist.py), and the kernel
             modules they need are built for the new kernel with dkms
             (kmods.py); a failure stops the update here, before boot and switch
  image-package  with --image-package (the image-update package's own
             script runs the update): that package is recorded in the new
             layer's package database and the other packages are locked, so
             the new layer offers only image updates (imagepackage.py)
  boot       kernels and BLS entries of the new layer: the new image's kernel
             arguments with the node's local changes applied (kargs.py);
             grub.cfg regenerated
  switch     one atomic grubenv write: the new entry becomes the default
             with a try counter, the current one its fallback
  gc         images beyond --keep go (gc.py)
Until the switch, everything created is listed in the update journal first
(journal.py): a failure removes it, a kill leaves it for the next run or gc.
"""

import contextlib
import os
import signal
from dataclasses import dataclass, field

from org_ovirt_node import constants, trust
from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import rootfacts
from org_ovirt_node.image.inspect import inspect_image
from org_ovirt_node.image.mount import mounted_image, mounted_root
from org_ovirt_node.install import bootconfig, deploy, layers, volumes
from org_ovirt_node.lifecycle import (bootcount, etcmerge, finalize, gc, journal, kargs,
                                      kmods, newvolumes, persist, preflight, varcopy)
from org_ovirt_node.lifecycle.roots import (mounted_base, mounted_layer, mounted_volumes,
                                            top_volumes, volume_entries)
from org_ovirt_node.lifecycle import imagepackage, imageupdated, poolguard
from org_ovirt_node.nvr import NVR
from org_ovirt_node.util import grubcfg, lvm
from org_ovirt_node.util.run import run

# Crash-safety tests stop a run right before a named step (SIGSTOP), then kill it.
STOP_BEFORE_ENV = "OVIRT_NODE_STOP_BEFORE"
FINALIZE_UNIT = "ovirt-node-finalize.service"


@dataclass
class UpdateOptions:
    """What the user asked of one update."""

    image: str
    allow_other_os: bool = False
    allow_downgrade: bool = False
    force: bool = False
    keep: int = None
    tries: int = bootcount.DEFAULT_TRIES
    skip_persisted: tuple = ()      # package names not to carry (persist.py)
    persist: bool = True            # False: --no-persist, carry no package
    image_packages: tuple = ()      # record files of the image-update package (imagepackage.py)


@dataclass
class UpdatePlan:
    """Everything an update will do, decided before its first write."""

    nvr: str
    layer: str
    base_size: int
    from_layer: str
    from_entry: str
    options: str
    kernels: list
    etc: list = field(default_factory=list)
    var: dict = field(default_factory=dict)
    new_volumes: dict = field(default_factory=dict)
    volume_fstype: str = "ext4"
    gc: dict = field(default_factory=dict)
    replaces: list = field(default_factory=list)
    leftovers: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    etc_manifest: dict = None      # the running /etc as the merge read it (finalize.py)
    signed_by: dict = None         # the image's verified signer (image/signature.py)
    signature_policy: str = None
    image_kargs: list = field(default_factory=list)    # the new image's own (kargs.py)
    packages: persist.PersistPlan = None                # what the packages step does
    kernel_modules: kmods.KmodPlan = None               # the modules it builds (kmods.py)
    up_to_date: bool = False       # the boot default is already a layer of this image

    def to_dict(self):
        """JSON-ready form: the --dry-run output."""
        return {"nvr": self.nvr, "layer": self.layer,
                "create_lvs": [self.nvr, self.layer] + [
                    item["lv"] for item in self.new_volumes.values() if not item["exists"]],
                "new_volumes": self.new_volumes, "base_size": self.base_size,
                "from_layer": self.from_layer, "boot_entry": {
                    "ids": [f"{self.layer}-{kver}" for kver in self.kernels],
                    "options": self.options, "fallback": self.from_entry},
                "etc": [item.to_dict() for item in self.etc],
                "etc_conflicts": [item.path for item in self.etc if item.action == "conflict"],
                "var": self.var, "gc_removes": [item["base"] for item in self.gc["remove"]],
                "replaces": self.replaces, "leftovers": self.leftovers,
                "problems": self.problems, "up_to_date": self.up_to_date,
                "signed_by": self.signed_by,
                "signature_policy": self.signature_policy,
                "packages": self.packages.to_dict() if self.packages else None,
                "kernel_modules": (self.kernel_modules.to_dict() if self.kernel_modules
                                   else None)}


def step(reporter, name, message, guard=None):
    """Announce step NAME; stop here first when the crash tests ask for it.

    With GUARD (poolguard.PoolGuard), a pool that filled meanwhile stops the
    update here, before the step writes anything."""
    if guard is not None:
        guard.check()
    reporter.step(name, message)
    if os.environ.get(STOP_BEFORE_ENV) == name:
        os.kill(os.getpid(), signal.SIGSTOP)


def _real_dir(path):
    """True for a directory that is not a symlink (an image may lack /home, say)."""
    return os.path.isdir(path) and not os.path.islink(path)


def _already_installed(node, nvr, options, leftover_lvs):
    """Problems with NVR's base already being there, and the layers --force replaces."""
    if nvr not in node.bases() or nvr in leftover_lvs:
        return [], []
    its_layers = sorted(layer for layer, base in node.layers().items() if base == nvr)
    bad = [layer for layer in its_layers if layer in node.state().bad]
    if bad and options.force:
        protected = gc.protected_layers(node)
        if any(layer in protected for layer in its_layers):
            return [f"{nvr} is marked bad but is {protected[its_layers[0]]}; "
                    "roll back first"], []
        return [], [nvr]
    if bad:
        return [f"{nvr} is installed and its layer {', '.join(bad)} failed to boot (marked "
                "bad); pass --force to deploy it again"], []
    return [f"{nvr} is already installed (layer {', '.join(its_layers) or 'none'}); use "
            f"ovirt-node rollback --to {nvr} to boot it"], []


def plan_update(node, options, reporter):
    """Check everything and decide every action; write nothing. Returns an UpdatePlan."""
    step(reporter, "preflight", f"Checking {options.image} against the node")
    info = inspect_image(options.image, reporter=reporter, trust=trust.load())
    current = node.default_entry()
    if current is None or current.layer not in node.layers():
        raise NodeError("the node has no default boot entry of an existing layer; repair it "
                        "with ovirt-node rollback --to LAYER first")
    old_base = node.layers()[current.layer]
    nvr = info.nvr
    layer = NVR.parse(nvr).layer(1)
    unfinished = journal.read(node)
    leftovers = journal.leftovers(node, unfinished) if unfinished else []
    leftover_lvs = set(unfinished.get("lvs", [])) if unfinished else set()
    problems, replaces = _already_installed(node, nvr, options, leftover_lvs)
    if not problems:
        problems += preflight.version_problems(
            nvr, [base for base in node.bases() if base not in leftover_lvs | set(replaces)],
            options.allow_downgrade)
    base_size = max(int(lvm.report("lvs", ["lv_size"], f"{node.vg}/{old_base}")[0]["lv_size"]),
                    info.rootfs_size, constants.MIN_ROOT_SIZE)
    with contextlib.ExitStack() as stack:
        _, new_root = stack.enter_context(mounted_root(options.image))
        local = stack.enter_context(mounted_layer(node, current.layer))
        old = stack.enter_context(mounted_base(node, old_base))
        problems += preflight.identity_problems(rootfacts.os_release(local),
                                                rootfacts.os_release(new_root),
                                                options.allow_other_os)
        kernels = [kver for kver, _, _ in bootconfig.find_kernels(os.path.join(new_root, "boot"))]
        kernel_bytes = preflight.kernel_bytes(os.path.join(new_root, "boot"))
        image_kargs, kernel_args = kargs.for_update(old, new_root, current.options)
        etc_manifest = (finalize.manifest(os.path.join(local, "etc"))
                        if node.running == current.layer else None)
        etc = etcmerge.plan_merge(os.path.join(old, "etc"), os.path.join(local, "etc"),
                                  os.path.join(new_root, "etc"))
        entries = volume_entries(node, local)
        new_volumes = newvolumes.plan_new_volumes(
            node, newvolumes.declared_volumes(new_root), {entry.mountpoint for entry in entries},
            leftover_lvs)
        stack.enter_context(mounted_volumes(node, local, entries))
        # The node's package database (on its /var) against the old image's.
        packages = persist.plan_persist(old, local, new_root, skip=options.skip_persisted,
                                        enabled=options.persist)
        persist.locate_files(packages, os.path.join(local, "var"))
        modules = kmods.plan_kmods(packages, local, new_root, kernels)
        problems += modules.refused
        problems += imagepackage.problems(options.image_packages, new_root)
        var = {point: varcopy.plan_copy_absent(
                   os.path.join(new_root, point.lstrip("/")), os.path.join(local, point.lstrip("/")),
                   skip=[new[len(point) + 1:] for new in new_volumes
                         if new.startswith(point + "/")])
               for point in top_volumes(entries)
               if _real_dir(os.path.join(new_root, point.lstrip("/")))}
    problems += preflight.space_problems(preflight.measure(node), info.rootfs_used,
                                         kernel_bytes)
    plan = UpdatePlan(nvr=nvr, layer=layer, base_size=base_size, from_layer=current.layer,
                      from_entry=current.entry_id,
                      options=bootconfig.layer_options(node.vg, layer, kernel_args),
                      image_kargs=image_kargs,
                      kernels=kernels, etc=etc, var={k: v for k, v in var.items() if v},
                      new_volumes=new_volumes,
                      volume_fstype=entries[0].fstype if entries else "ext4",
                      replaces=replaces, leftovers=leftovers, problems=problems,
                      etc_manifest=etc_manifest, signed_by=info.signed_by,
                      signature_policy=info.signature_policy, packages=packages,
                      kernel_modules=modules,
                      up_to_date=old_base == nvr and nvr not in leftover_lvs)
    plan.gc = gc.plan_gc(node, options.keep, after_switch=(nvr, layer, current.layer))
    return plan


def apply_update(node, plan, options, reporter):
    """Carry out PLAN; the default switches last. Returns the result dict."""
    if plan.problems:
        raise NodeError("update refused: " + "; ".join(plan.problems))
    # oVirt's engine reads the marker in the running node's /var (imageupdated.py).
    # Offline (--vg) the host's /var is not the node's: the marker is left alone.
    if node.running:
        imageupdated.clear()
    unfinished = journal.read(node)
    if unfinished is not None:
        removed = journal.undo(node, unfinished)
        reporter.info("removed what an interrupted update left: " + (", ".join(removed)
                                                                       or "nothing"))
    for base in plan.replaces:
        reporter.info(f"removing {base}, marked bad, to deploy it again")
        gc.remove_image(node, base)
    record = journal.Journal(node, plan.nvr, plan.layer)
    record.begin()
    switched = False
    try:
        with poolguard.PoolGuard(node.vg, node.pool) as guard:
            try:
                conflicts = _write_new_layer(node, plan, options, reporter, record, guard)
            except (NodeError, OSError) as error:
                full = guard.explain(error)
                if full is None:
                    raise
                raise full from error
            guard.check()
        step(reporter, "switch", f"Making {plan.layer} the boot default "
                                 f"({options.tries} tries, then {plan.from_layer})")
        env = bootcount.armed(node.grubenv(), f"{plan.layer}-{plan.kernels[0]}",
                              plan.from_entry, options.tries)
        node.write_grubenv(env)
        switched = True
        record.finish()
    except BaseException as error:
        if switched:
            raise
        reporter.warning(f"update failed: {error}")
        removed = journal.undo(node, record.data)
        reporter.warning("cleanup: removed " + (", ".join(removed) or "nothing") +
                         f"; the boot default is still {plan.from_layer}")
        if isinstance(error, poolguard.PoolFull):
            # the one line a user reads must say the node is as it was
            raise poolguard.PoolFull(f"{error} before the switch; removed what it created "
                                     f"({', '.join(removed) or 'nothing'}); the boot default "
                                     f"is still {plan.from_layer}") from None
        raise
    if node.running:
        try:
            imageupdated.mark(options.image)
        except OSError as error:
            reporter.warning(f"could not write /{imageupdated.MARKER} ({error}): oVirt's "
                             "engine will take this update for a failed one")
    try:
        _stage_finalize(node, plan)
    except (OSError, NodeError) as error:
        reporter.warning(f"could not stage the shutdown /etc merge ({error}): /etc edits made "
                         f"before the reboot stay out of {plan.layer}")
    step(reporter, "gc", "Removing images beyond the ones to keep")
    removed = gc.gc(node, gc.plan_gc(node, options.keep), reporter)
    return {"layer": plan.layer, "default_entry": env["saved_entry"],
            "fallback_entry": plan.from_entry, "etc_conflicts": conflicts,
            "var_added": plan.var, "gc_removed": removed}


def _stage_finalize(node, plan):
    """On a booted node, have /etc edits made from now on carried over at shutdown.

    Only when the merge read the running /etc (the default was the running
    layer): the record holds what it saw, and ovirt-node-finalize.service,
    started now, runs `ovirt-node finalize` when it stops. Offline, or from
    another default, there is nothing live to carry and an older record goes.
    """
    if plan.etc_manifest is None:
        if node.running:
            finalize.unstage(node.boot)
        return
    finalize.stage(node.boot, plan.layer, plan.nvr, plan.from_layer,
                   node.layers()[plan.from_layer], plan.etc_manifest)
    if os.path.isdir("/run/systemd/system"):
        started = run(["systemctl", "start", FINALIZE_UNIT], check=False)
        if started.returncode != 0:
            finalize.unstage(node.boot)
            raise NodeError(f"systemctl start {FINALIZE_UNIT}: {started.stderr.strip()}")


def _write_new_layer(node, plan, options, reporter, record, guard):
    """Steps base to boot, each first asking GUARD about the pool; return the /etc conflicts."""
    step(reporter, "base", f"Writing the image into {node.lv_path(plan.nvr)}", guard)
    record.will_create_lv(plan.nvr)
    lvm.lvm("lvcreate", "--thin", "--virtualsize", f"{plan.base_size}b", "--name", plan.nvr,
            "--addtag", constants.TAG_BASE, "--setactivationskip", "n",
            f"{node.vg}/{node.pool}")
    with mounted_image(options.image) as image:
        deploy.deploy_image(image, node.lv_path(plan.nvr), reporter,
                            layers.pool_chunk_size(node.vg, node.pool), step="base",
                            guard=guard)
    step(reporter, "layer", f"Creating the writable layer {plan.layer}", guard)
    record.will_create_lv(plan.layer)
    lvm.thin_snapshot(node.vg, plan.nvr, plan.layer, tags=[constants.TAG_LAYER])
    deploy.new_uuid(node.lv_path(plan.layer))
    lvm.freeze_base(node.vg, plan.nvr)
    with contextlib.ExitStack() as stack:
        _, new_root = stack.enter_context(mounted_root(options.image))
        target = stack.enter_context(mounted_layer(node, plan.layer, write=True))
        local = stack.enter_context(mounted_layer(node, plan.from_layer))
        step(reporter, "etc", "Merging /etc: the node's changes onto the new image's", guard)
        conflicts = etcmerge.apply_merge(plan.etc, os.path.join(local, "etc"),
                                         os.path.join(new_root, "etc"),
                                         os.path.join(target, "etc"), root=target)
        for path in conflicts:
            reporter.warning(f"/etc/{path}: changed locally and in the image; kept the local "
                             f"version, the image's is /etc/{path}.imgnew")
        etcmerge.point_fstab_at(target, node.lv_path(plan.layer))
        step(reporter, "var", "Adding the image's new volumes and /var content where absent",
             guard)
        entries = volume_entries(node, target)
        added = newvolumes.create(node, plan.new_volumes, plan.volume_fstype, record)
        points = [entry.mountpoint for entry in entries + added]
        for point in points:
            if _real_dir(os.path.join(target, point.lstrip("/"))):
                volumes.clear_source(target, point, points)
        every = sorted(entries + added, key=lambda entry: entry.mountpoint.count("/"))
        with mounted_volumes(node, target, every, write=True):
            newvolumes.seed(added, new_root, target)
            for entry in added:
                etcmerge.fix_copied_owners(plan.etc, os.path.join(target,
                                                                  entry.mountpoint.lstrip("/")))
                reporter.info(f"volume {entry.spec} mounted on {entry.mountpoint}")
            for point, paths in plan.var.items():
                for path in varcopy.copy_absent(paths, os.path.join(new_root, point.lstrip("/")),
                                                os.path.join(target, point.lstrip("/"))):
                    etcmerge.fix_copied_owners(plan.etc, os.path.join(target, point.lstrip("/"),
                                                                      path))
                    reporter.info(f"added {point.rstrip('/')}/{path}")
            _persist_packages(plan, local, target, new_root, reporter)
            if options.image_packages:
                step(reporter, "image-package", "Recording the image-update package in "
                                                f"{plan.layer}'s package database")
                imagepackage.record(target, options.image_packages, reporter)
        if added:
            bootconfig.write_fstab(target, added)
        step(reporter, "boot", f"Writing the boot entries of {plan.layer}", guard)
        record.will_write_boot(plan.layer)
        bootconfig.write_boot_entries(os.path.join(target, "boot"), node.boot, plan.layer,
                                      plan.nvr, plan.options)
        grubcfg.refresh(node.boot)
        node_state = node.state()
        node_state.remember_image(plan.nvr, rootfacts.os_release(new_root),
                                  plan.signed_by, plan.signature_policy)
        node_state.remember_kargs(plan.layer, plan.image_kargs)
        node_state.remember_persisted(plan.layer, _persisted(plan))
        node.save_state(node_state)
    return conflicts


def _persisted(plan):
    """What the packages step carried into the new layer, as status shows it (with
    the modules dkms built for it, kmods.py)."""
    built = plan.kernel_modules.by_package() if plan.kernel_modules else {}
    return [{"name": item.name, "version": item.version, "manager": item.manager,
             "action": item.action, "reason": item.reason, "source": item.source,
             **({"dkms_built": built[item.name]} if item.name in built else {})}
            for item in (plan.packages.changes if plan.packages else [])]


def _persist_packages(plan, local, target, new_root, reporter, layer_var=None):
    """The packages step, in TARGET with the node's volumes mounted (persist.py).

    The files go to the store on the node's /var first (found again there: the
    plan's paths were under mounts that are gone); a .deb is rebuilt from
    LOCAL's installed files, with LAYER_VAR as its /var (default: TARGET's, the
    node's own /var volume, shared by the layers). Then the kernel modules the
    carried packages need are built for the new kernel (kmods.py). Files this
    run added to the store, and what dkms changed in the shared /var/lib/dkms,
    go again when it fails.
    """
    packages = plan.packages
    count = len(packages.changes) if packages else 0
    step(reporter, "packages", f"Carrying {count} package change(s) of {plan.from_layer} "
                               f"into {plan.layer}" if count else
                               "No package changes to carry" +
                               (f" ({len(packages.dropped)} left out)"
                                if packages and packages.dropped else ""))
    if packages is None or packages.manager is None:
        return
    for item in packages.dropped:
        reporter.info(f"package {item.name} {item.version}: not carried ({item.reason})")
    var = os.path.join(target, "var")
    persist.locate_files(packages, var)
    store = os.path.join(var, persist.STORE, packages.manager)
    before = set(os.listdir(store)) if os.path.isdir(store) else set()
    try:
        for item in packages.changes:
            if item.source == "repository":
                reporter.warning(f"package {item.name} {item.version}: no file kept on the "
                                 f"node; {packages.manager}'s configured repositories must "
                                 "fetch it")
        persist.collect_files(packages, local, layer_var or var, var, reporter)
        with kmods.dkms_tree_kept(target, plan.kernel_modules):
            persist.reinstall(packages, target, new_var=os.path.join(new_root, "var"),
                              reporter=reporter, then=lambda: kmods.rebuild(
                                  plan.kernel_modules, target, reporter))
    except BaseException:
        for name in set(os.listdir(store)) - before if os.path.isdir(store) else ():
            os.unlink(os.path.join(store, name))
        raise
