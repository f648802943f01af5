"""Packages the administrator added or removed survive an update (issue 17 §1).

What to carry is read from the package databases, never from a cache a
plugin kept: what the running layer has that its base image lacks (added,
or at another version) and what the base had that the layer lost
(removed). Each change is then checked against the new image:

  - the image's own update package (ovirt-node-ng-image-update*) is never
    carried, nor anything the new image has at the same or a newer version;
  - a removal of what the new image does not ship is moot;
  - --skip-persisted NAME and --no-persist drop changes, and say so.

The package files are kept on /var, shared by every layer, in
/var/lib/ovirt-node/persisted/<manager>/, so a reinstall needs no network.
They come from (first found wins):

  dpkg  /var/cache/apt/archives/<name>_<version>_<arch>.deb (what apt
        downloaded), the persisted store (an earlier update's), else the
        package is rebuilt from its installed files, as dpkg-repack does:
        the layer's files listed in /var/lib/dpkg/info/<name>.list, the
        status stanza as control, the maintainer scripts and conffiles
        from info/ (our own code: dpkg-repack needs perl, which the node
        image does not carry; a conffile comes as the node has it, the
        /etc merge keeps that version anyway);
  rpm   dnf's or yum's package cache, the persisted store, else the
        manager's configured repositories fetch it (`dnf install N-V-R`),
        and the plan says so.

The `packages` step of an update (reinstall()) runs the image's own
manager in the new layer as a chroot with /proc, /sys, /dev, a fresh /run
and the node's /var mounted: removals first, then the local files in one
transaction (dpkg -i / rpm -U, kernels rpm -i so they install beside the
image's), then what a repository must fetch. A failure raises NodeError
with the package and the manager's own words; the update then removes the
new layer and the default never changed. Kernel packages need nothing
more: the boot step after this one makes entries from the layer's /boot.
"""

import fnmatch
import glob
import os
import re
import shutil
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from typing import List, Optional

from org_ovirt_node.errors import NodeError
from org_ovirt_node.nvr import rpmvercmp
from org_ovirt_node.util.run import run

STORE = "lib/ovirt-node/persisted"          # below /var
NEVER = ("ovirt-node-ng-image-update*",)
RPM_DBPATHS = ("usr/lib/sysimage/rpm", "var/lib/rpm")
CHROOT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C",
              "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
_OUTPUT_TAIL = 1500


@dataclass
class Package:
    """One installed package as its database records it."""

    name: str
    version: str            # dpkg: Version; rpm: [E:]V-R
    arch: str
    state: str = "installed"    # dpkg also: config-files (removed, not purged)


@dataclass
class Change:
    """One package the update reinstalls ("install") or drops ("remove"), or leaves out."""

    name: str
    version: str
    arch: str
    manager: str
    action: str             # install | remove
    reason: str
    source: Optional[str] = None    # install: apt cache, dnf cache, persisted, rebuilt, repository
    path: Optional[str] = None      # where the file is found now (host path)
    file: Optional[str] = None      # the file as the chroot sees it (/var/lib/...)
    purge: bool = False             # dpkg: the node purged it (no config files kept)

    def to_dict(self):
        """JSON-ready form (host paths left out)."""
        data = asdict(self)
        data.pop("path")
        return data


@dataclass
class PersistPlan:
    """What the packages step will do, and what it leaves out and why."""

    manager: Optional[str]
    changes: List[Change] = field(default_factory=list)
    dropped: List[Change] = field(default_factory=list)

    def to_dict(self):
        """JSON-ready form: part of update --dry-run."""
        return {"manager": self.manager, "changes": [item.to_dict() for item in self.changes],
                "dropped": [item.to_dict() for item in self.dropped]}

    def render(self):
        """Lines for the human plan."""
        lines = []
        for item in self.changes:
            what = "reinstall" if item.action == "install" else "remove"
            src = f", file: {item.source}" if item.action == "install" else ""
            lines.append(f"  package {item.name} {item.version}: {what} ({item.reason}{src})")
        lines += [f"  package {item.name} {item.version}: not carried ({item.reason})"
                  for item in self.dropped]
        return lines


# --- the databases -----------------------------------------------------------

def manager_of(root):
    """"dpkg" or "rpm": the manager whose database ROOT holds, or None."""
    if os.path.isfile(os.path.join(root, "var/lib/dpkg/status")):
        return "dpkg"
    return "rpm" if _rpm_dbpath(root) else None


def _rpm_dbpath(root):
    """The rpm database directory inside ROOT ("/usr/lib/sysimage/rpm" ...), or None."""
    for rel in RPM_DBPATHS:
        path = os.path.join(root, rel)
        if os.path.isdir(path) and not os.path.islink(path) and os.listdir(path):
            return "/" + rel
    return None


def read_db(root, manager, var=None):
    """{name: [Package]} of ROOT's database. VAR: where ROOT's /var is, when elsewhere."""
    if manager == "dpkg":
        return {name: [pkg] for name, (pkg, _) in read_dpkg(var or os.path.join(root, "var"))
                .items()}
    return read_rpm(root)


def read_dpkg(var):
    """{name: (Package, stanza text)} from VAR/lib/dpkg/status: installed or config-files."""
    path = os.path.join(var, "lib/dpkg/status")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as error:
        raise NodeError(f"{path}: {error.strerror}") from None
    found = {}
    for stanza in text.split("\n\n"):
        fields = _stanza_fields(stanza)
        status = fields.get("Status", "").split()
        if "Package" not in fields or len(status) != 3:
            continue
        if status[2] not in ("installed", "config-files"):
            continue
        pkg = Package(fields["Package"], fields.get("Version", ""),
                      fields.get("Architecture", ""), status[2])
        # A Multi-Arch package of two architectures is kept once, by name.
        found.setdefault(pkg.name, (pkg, stanza.strip("\n")))
    return found


def _stanza_fields(stanza):
    """The fields of one deb822 stanza (continuation lines joined with newlines)."""
    fields, last = {}, None
    for line in stanza.splitlines():
        if line[:1] in (" ", "\t") and last:
            fields[last] += "\n" + line
        elif ":" in line:
            last, _, value = line.partition(":")
            fields[last] = value.strip()
    return fields


def read_rpm(root):
    """{name: [Package]} of ROOT's rpm database (gpg-pubkey left out)."""
    dbpath = _rpm_dbpath(root)
    if dbpath is None:
        return {}
    out = run(["rpm", "--root", root, "--dbpath", dbpath, "-qa", "--qf",
               r"%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n"]).stdout
    found = {}
    for line in out.splitlines():
        name, epoch, version, release, arch = line.split("\t")
        if name == "gpg-pubkey":
            continue
        evr = f"{version}-{release}" if epoch == "0" else f"{epoch}:{version}-{release}"
        found.setdefault(name, []).append(Package(name, evr, arch))
    return found


def compare(manager, left, right):
    """-1, 0 or 1: version LEFT against RIGHT by MANAGER's rules."""
    if left == right:
        return 0
    if manager == "dpkg":
        return -1 if run(["dpkg", "--compare-versions", left, "lt", right],
                         check=False).returncode == 0 else 1
    try:
        import rpm      # pylint: disable=import-outside-toplevel
        return rpm.labelCompare(_evr(left), _evr(right))
    except ImportError:
        for one, two in zip(_evr(left), _evr(right)):
            result = rpmvercmp(one, two)
            if result:
                return result
        return 0


def _evr(text):
    """(epoch, version, release) of "[E:]V-R"."""
    epoch, _, rest = text.rpartition(":") if ":" in text else ("0", "", text)
    version, _, release = rest.rpartition("-")
    return (epoch or "0", version, release)


# --- the plan ------------------------------------------------------------------

def plan_persist(base, layer, new, skip=(), enabled=True, layer_var=None, new_var=None,
                 base_var=None):
    """The PersistPlan of carrying LAYER's package changes (against BASE) into NEW.

    BASE, LAYER and NEW are root trees: the current image, the running layer
    and the new image; *_VAR where each one's /var is when it is not inside
    (the running node's /var volume). Nothing is written.
    """
    manager = manager_of(new)
    if manager is None or manager_of(base) != manager:
        return PersistPlan(manager=None)
    before = read_db(base, manager, base_var)
    after = read_db(layer, manager, layer_var)
    image = read_db(new, manager, new_var)
    candidates = []
    for name, pkgs in sorted(after.items()):
        had = {pkg.version for pkg in before.get(name, []) if pkg.state == "installed"}
        for pkg in pkgs:
            if pkg.state != "installed" or pkg.version in had:
                continue
            reason = (f"on the node at {pkg.version}, the image had {', '.join(sorted(had))}"
                      if had else "added on the node")
            candidates.append(Change(name, pkg.version, pkg.arch, manager, "install", reason))
    for name, pkgs in sorted(before.items()):
        if any(pkg.state == "installed" for pkg in after.get(name, [])):
            continue
        for pkg in pkgs:
            if pkg.state == "installed":
                candidates.append(Change(name, pkg.version, pkg.arch, manager, "remove",
                                         "removed on the node",
                                         purge=name not in after))
    plan = PersistPlan(manager=manager)
    for item in candidates:
        why = _left_out(item, image, manager, skip, enabled)
        if why:
            item.reason = why
            plan.dropped.append(item)
        else:
            plan.changes.append(item)
    return plan


def _left_out(item, image, manager, skip, enabled):
    """Why ITEM is not carried into the new image (its database IMAGE), or None."""
    if any(fnmatch.fnmatchcase(item.name, pattern) for pattern in NEVER):
        return "the image's own update package"
    if not enabled:
        return "--no-persist"
    if item.name in skip:
        return "--skip-persisted"
    ships = [pkg.version for pkg in image.get(item.name, []) if pkg.state == "installed"]
    if item.action == "remove":
        return None if ships else "the new image does not ship it"
    newer = [version for version in ships if compare(manager, version, item.version) >= 0]
    if newer:
        same = item.version in newer
        return f"the new image has {newer[0]}" + (" (the same)" if same else " (newer)")
    return None


# --- the files -----------------------------------------------------------------

def locate_files(plan, layer_var):
    """Set each install's source: where its file is (LAYER_VAR: the node's /var), or
    "rebuilt" (dpkg, from the installed files) or "repository" (rpm: fetched)."""
    for item in plan.changes:
        if item.action != "install":
            continue
        item.source, item.path = _find_file(item, layer_var)


def _file_name(item):
    """The file name apt or dnf gives ITEM's package."""
    if item.manager == "dpkg":
        return f"{item.name}_{item.version.replace(':', '%3a')}_{item.arch}.deb"
    version = item.version.split(":", 1)[-1]
    return f"{item.name}-{version}.{item.arch}.rpm"


def _find_file(item, var):
    """(source, host path or None) of ITEM's package file below VAR."""
    name = _file_name(item)
    if item.manager == "dpkg":
        caches = [("apt cache", os.path.join(var, "cache/apt/archives", name))]
    else:
        caches = [("dnf cache", path) for pattern in ("cache/dnf/*/packages/",
                                                      "cache/yum/*/*/*/packages/",
                                                      "cache/yum/*/*/packages/")
                  for path in sorted(glob.glob(os.path.join(var, pattern, name)))]
    caches.append(("persisted", os.path.join(var, STORE, item.manager, name)))
    for source, path in caches:
        if os.path.isfile(path) and not os.path.islink(path):
            return source, path
    return ("rebuilt" if item.manager == "dpkg" else "repository"), None


def collect_files(plan, layer_root, layer_var, store_var, reporter=None, prune=True):
    """Put every install's file into the persisted store on STORE_VAR (the /var the
    chroot mounts), rebuilding .debs from LAYER_ROOT's files where none was found.
    With PRUNE, files of the store this plan does not use are removed (the node's
    database no longer asks for them). Returns the store's path."""
    store = os.path.join(store_var, STORE, plan.manager or "none")
    os.makedirs(store, mode=0o755, exist_ok=True)
    keep = set()
    for item in plan.changes:
        if item.action != "install" or item.source == "repository":
            continue
        name = _file_name(item)
        target = os.path.join(store, name)
        if item.source == "rebuilt":
            _rebuild_deb(layer_root, layer_var, item, target)
        elif os.path.realpath(item.path) != os.path.realpath(target):
            _copy(item.path, target)
        item.file = "/" + os.path.join("var", STORE, plan.manager, name)
        keep.add(name)
        if reporter is not None:
            reporter.info(f"package {item.name} {item.version}: file kept in "
                          f"{item.file} ({item.source})")
    for name in os.listdir(store) if prune else ():
        if name not in keep and not name.startswith(".") and \
                os.path.isfile(os.path.join(store, name)):
            os.unlink(os.path.join(store, name))
    return store


def _copy(source, target):
    """Copy SOURCE to TARGET by way of a temporary name (a hard link when possible)."""
    temp = target + ".part"
    if os.path.lexists(temp):
        os.unlink(temp)
    try:
        os.link(source, temp)
    except OSError:
        shutil.copy2(source, temp)
    os.replace(temp, target)


def _rebuild_deb(layer_root, layer_var, item, target):
    """Rebuild ITEM's .deb from what LAYER_ROOT has installed (as dpkg-repack does)."""
    packages = read_dpkg(layer_var)
    if item.name not in packages:
        raise NodeError(f"package {item.name}: not in the node's dpkg database, cannot "
                        "rebuild its .deb")
    installed, stanza = packages[item.name]
    if installed.version != item.version:
        raise NodeError(f"package {item.name}: the node's dpkg database has "
                        f"{installed.version}, not {item.version}; cannot rebuild its .deb")
    info = os.path.join(layer_var, "lib/dpkg/info")
    stem = next((stem for stem in (item.name, f"{item.name}:{item.arch}")
                 if os.path.isfile(os.path.join(info, stem + ".list"))), None)
    if stem is None:
        raise NodeError(f"package {item.name}: no file list in /var/lib/dpkg/info, cannot "
                        "rebuild its .deb")
    stage = tempfile.mkdtemp(prefix=".rebuild-", dir=os.path.dirname(target))
    try:
        with open(os.path.join(info, stem + ".list"), encoding="utf-8",
                  errors="surrogateescape") as handle:
            paths = [line.rstrip("\n") for line in handle]
        parents = {os.path.dirname(path) for path in paths}
        for path in paths:
            _stage_path(path, layer_root, layer_var, stage, parents)
        control = os.path.join(stage, "DEBIAN")
        os.makedirs(control, mode=0o755, exist_ok=True)
        fields = _stanza_fields(stanza)
        kept = [line for line in _stanza_lines(stanza)
                if line.partition(":")[0] not in ("Status", "Conffiles", "Config-Version")]
        with open(os.path.join(control, "control"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(kept) + "\n")
        conffiles = [line.split()[0] for line in fields.get("Conffiles", "").splitlines()
                     if line.split() and not {"obsolete", "remove-on-upgrade"} &
                     set(line.split()[2:])]
        if conffiles:
            with open(os.path.join(control, "conffiles"), "w", encoding="utf-8") as handle:
                handle.write("\n".join(conffiles) + "\n")
        for part in ("preinst", "postinst", "prerm", "postrm", "config", "templates",
                     "triggers", "shlibs", "symbols", "md5sums"):
            source = os.path.join(info, f"{stem}.{part}")
            if os.path.isfile(source):
                shutil.copy2(source, os.path.join(control, part))
        run(["dpkg-deb", "-Zgzip", "-z1", "--build", stage, target + ".part"])
        os.replace(target + ".part", target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _stanza_lines(stanza):
    """STANZA's lines, a field with its continuation lines as one string."""
    lines = []
    for line in stanza.splitlines():
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += "\n" + line
        elif line:
            lines.append(line)
    return lines


def _stage_path(path, layer_root, layer_var, stage, parents=()):
    """Copy the installed PATH (from a .list) into STAGE with owner and mode.

    A path that holds others of the list (PARENTS) is a directory the package
    ships even when the node has a link to one there (merged /usr: /lib is a
    link to usr/lib): it is staged as the directory, as the package has it.
    """
    rel = path.lstrip("/")
    if not rel or rel == ".":
        return
    source = (os.path.join(layer_var, rel[4:]) if rel == "var" or rel.startswith("var/")
              else os.path.join(layer_root, rel))
    try:
        info = os.lstat(source)
    except FileNotFoundError:
        return                          # dpkg-repack too packs what is still there
    if stat.S_ISLNK(info.st_mode) and path in parents and os.path.isdir(source):
        info = os.stat(source)
    dest = os.path.join(stage, rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if stat.S_ISDIR(info.st_mode):
        os.makedirs(dest, exist_ok=True)
    elif stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), dest)
    elif stat.S_ISREG(info.st_mode):
        shutil.copy2(source, dest)
    else:
        return
    os.lchown(dest, info.st_uid, info.st_gid)
    if not stat.S_ISLNK(info.st_mode):
        os.chmod(dest, stat.S_IMODE(info.st_mode))


# --- the step ------------------------------------------------------------------

class Chroot:
    """ROOT with /proc, /sys, /dev and a fresh /run mounted (its /var as the caller
    left it: the node's volumes during an update)."""

    MOUNTS = (("proc", "proc", ["-t", "proc"]), ("sysfs", "sys", ["-t", "sysfs"]),
              ("/dev", "dev", ["--bind"]), ("tmpfs", "run", ["-t", "tmpfs", "-o", "mode=755"]))

    def __init__(self, root):
        self.root = root
        self.done = []

    def __enter__(self):
        try:
            for source, rel, args in self.MOUNTS:
                target = os.path.join(self.root, rel)
                os.makedirs(target, exist_ok=True)
                run(["mount", *args, source, target])
                self.done.append(target)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for target in reversed(self.done):
            run(["umount", "--lazy", target], check=False)
        self.done = []

    def run(self, cmd):
        """CMD run chrooted in ROOT (no check)."""
        return run(["chroot", self.root, *cmd], check=False, env=CHROOT_ENV)


def reinstall(plan, target, new_var=None, reporter=None, then=None):
    """The packages step: carry PLAN's changes out in TARGET (the new layer).

    Files must be in the store (collect_files). NEW_VAR: the new image's /var,
    whose dpkg database replaces one the node's shared /var holds (see
    _fresh_dpkg_db). THEN: the rest of the step (kmods.rebuild), run before
    that swap is kept, so its failure puts the node's database back too.
    Raises NodeError naming the package and the manager's error; what it did
    to TARGET goes with the layer.
    """
    if not plan.changes:
        # Nothing to carry: the shared database is left as it is. Swapping it
        # touches the running layer's /var, which only a change to carry
        # justifies (see _fresh_dpkg_db and README: a per-layer database is
        # the open fix).
        return []
    restore = _fresh_dpkg_db(target, new_var) if plan.manager == "dpkg" else None
    try:
        done = []
        if plan.changes:
            with Chroot(target) as chroot:
                if plan.manager == "dpkg":
                    done = _dpkg(chroot, plan, reporter)
                else:
                    done = _rpm(chroot, target, plan, reporter)
        if then is not None:
            then()
    except BaseException:
        if restore:
            restore(failed=True)
        raise
    if restore:
        restore(failed=False)
    return done


def _fresh_dpkg_db(target, new_var):
    """When TARGET's /var/lib/dpkg is on the node's own /var volume (shared by the
    layers, so it is the old layer's database), put the new image's in its place.

    Returns a function that, on failure, puts the old one back, and otherwise
    keeps it as /var/lib/ovirt-node/persisted/dpkg-db.previous; None when TARGET's
    database is its own (it is the new image's then).
    """
    db = os.path.join(target, "var/lib/dpkg")
    if new_var is None or os.stat(os.path.dirname(db)).st_dev == os.stat(target).st_dev:
        return None
    fresh, previous = db + ".ovirt-node-new", db + ".ovirt-node-old"
    for path in (fresh, previous):
        if os.path.lexists(path):
            shutil.rmtree(path)
    run(["cp", "-a", os.path.join(new_var, "lib/dpkg"), fresh])
    os.rename(db, previous)
    os.rename(fresh, db)

    def restore(failed):
        if failed:
            shutil.rmtree(db, ignore_errors=True)
            os.rename(previous, db)
            return
        kept = os.path.join(target, "var", STORE, "dpkg-db.previous")
        if os.path.lexists(kept):
            shutil.rmtree(kept)
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        os.rename(previous, kept)
    return restore


def _failed(manager, names, result):
    """The NodeError of a failed manager run: the package(s) and the manager's own words."""
    text = ((result.stdout or "") + (result.stderr or "")).strip()
    raise NodeError(f"packages: {manager} could not reinstall {', '.join(names)} in the new "
                    f"layer (exit {result.returncode}): {text[-_OUTPUT_TAIL:]}")


def _dpkg(chroot, plan, reporter):
    """Removals with dpkg, then the local .debs in one dpkg -i, then apt for the rest."""
    done = []
    removes = [item for item in plan.changes if item.action == "remove"]
    for purge in (True, False):
        names = [item.name for item in removes if item.purge == purge]
        if names:
            result = chroot.run(["dpkg", "--purge" if purge else "--remove", *names])
            if result.returncode != 0:
                _failed("dpkg", _named(result, names), result)
            done += names
    local = [item for item in plan.changes if item.action == "install" and item.file]
    if local:
        result = chroot.run(["dpkg", "--force-confdef", "--force-confold", "-i",
                             *[item.file for item in local]])
        if result.returncode != 0:
            _failed("dpkg", _named(result, [item.name for item in local]), result)
        done += [item.name for item in local]
    fetch = [item for item in plan.changes if item.action == "install" and not item.file]
    if fetch:
        result = chroot.run(["apt-get", "install", "-y", "--no-install-recommends",
                             "-o", "Dpkg::Options::=--force-confold",
                             *[f"{item.name}={item.version}" for item in fetch]])
        if result.returncode != 0:
            _failed("apt-get", [item.name for item in fetch], result)
        done += [item.name for item in fetch]
    if reporter is not None and done:
        reporter.info("packages: " + ", ".join(done))
    return done


_DPKG_FAILED = re.compile(r"^dpkg: error processing (?:package|archive) (\S+)", re.M)
_RPM_FAILED = re.compile(r"^error: (?:%\w+\()?([^\s()]+?)(?:-[^-\s]+-[^-\s]+)?[)\s:]", re.M)


def _named(result, names):
    """The NAMES the manager's output says failed (all NAMES when it names none)."""
    text = (result.stdout or "") + (result.stderr or "")
    named = []
    for match in _DPKG_FAILED.finditer(text):
        word = os.path.basename(match.group(1)).split("_")[0].split(":")[0]
        if word in names and word not in named:
            named.append(word)
    for name in names:
        if name not in named and re.search(rf"\b{re.escape(name)}-[0-9]", text) \
                and "error" in text and _RPM_FAILED.search(text):
            named.append(name)
    return named or names


def _rpm(chroot, target, plan, reporter):
    """Removals with rpm -e, then the local rpms in one transaction, then dnf for the
    rest. The image's own rpm chrooted when it has one, else this host's with --root."""
    own = os.path.isfile(os.path.join(target, "usr/bin/rpm"))
    dbpath = _rpm_dbpath(target)

    def rpm(args):
        if own:
            return chroot.run(["rpm", *args])
        return run(["rpm", "--root", target, "--dbpath", dbpath, *args], check=False)
    done = []
    removes = [item.name for item in plan.changes if item.action == "remove"]
    if removes:
        result = rpm(["-e", *removes])
        if result.returncode != 0:
            _failed("rpm", _named(result, removes), result)
        done += removes
    local = [item for item in plan.changes if item.action == "install" and item.file]
    for kernels in (False, True):
        batch = [item for item in local if item.name.startswith("kernel") == kernels]
        if not batch:
            continue
        files = [item.file if own else os.path.join(target, item.file.lstrip("/"))
                 for item in batch]
        result = rpm(["-i" if kernels else "-U", *files])
        if result.returncode != 0:
            _failed("rpm", _named(result, [item.name for item in batch]), result)
        done += [item.name for item in batch]
    fetch = [item for item in plan.changes if item.action == "install" and not item.file]
    if fetch:
        specs = [f"{item.name}-{item.version.split(':', 1)[-1]}.{item.arch}" for item in fetch]
        cmd = ["dnf", "install", "-y", *specs]
        result = (chroot.run(cmd) if os.path.isfile(os.path.join(target, "usr/bin/dnf"))
                  else run(["dnf", "--installroot", target, *cmd[1:]], check=False))
        if result.returncode != 0:
            _failed("dnf", [item.name for item in fetch], result)
        done += [item.name for item in fetch]
    if reporter is not None and done:
        reporter.info("packages: " + ", ".join(done))
    return done
