"""Drivers the node carries get a build for the new kernel, or the update is refused
(issue 17 §2).

A package the packages step carries (persist.py) may ship kernel modules:
files under /lib/modules/<kver>/ (.ko, .ko.xz, .ko.zst, .ko.gz). They load
only into the kernel <kver> they were built for. When the new image brings
another kernel, carrying the package brings a driver that cannot load, and
the node boots without it: what users of rpm-ostree and Silverblue keep
meeting, and what imgbased's update only logs.

So, before anything is written (plan_kmods, part of preflight):

  - a module for a kernel the new layer will have (the new image's, or one
    a carried package brings) needs nothing;
  - a module for another kernel needs a DKMS source that builds a module of
    that name: a dkms.conf under /usr/src/<name>-<version>/ that a carried
    package ships or the new image has, or a source directory kept in the
    node's /var/lib/dkms. Without one the update is refused, in one line
    naming the module file and the new kernel;
  - a carried package that ships a DKMS source (a -dkms package) is built for
    the new kernel too: its postinst alone would skip a kernel without
    headers with only a warning, and the node would lose the driver silently;
  - a build needs dkms and the new kernel's headers in the new layer (from
    the image or a carried package); without them the update is refused
    then, not after the base is written.

The build itself (rebuild) runs in the packages step, after the packages are
reinstalled, in the new layer as a chroot (/proc, /sys, /dev, a fresh /run,
the node's volumes): `dkms install -m NAME -v VERSION -k KVER` per source
and new kernel (it adds and builds first, and skips what is installed
already). dkms exiting non-zero, or a module it should have built missing
from /lib/modules/<kver>/ afterwards, fails the update before the switch
with dkms's own words and the end of its make.log. /var/lib/dkms lives on
the node's /var volume, shared by the layers: dkms_tree_kept puts it back as
it was when the step fails (the new layer itself goes with the update).

The dkms.conf files are read, not run (preflight writes nothing and runs no
script of the node): plain and indexed assignments with $VAR expansion, which
is how dkms.conf files are written; a module name computed by shell logic is
not seen, and the update is refused rather than guessing.
"""

import contextlib
import glob
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from typing import Dict, List

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import persist
from org_ovirt_node.util.run import run

_MODULE = re.compile(r"/(?:usr/)?lib/modules/([^/]+)/(?:.*/)?([^/]+?)\.ko(?:\.(?:xz|zst|gz))?")
_KERNEL = re.compile(r"/(?:boot/vmlinuz-(.+)|(?:usr/)?lib/modules/([^/]+)/vmlinuz)")
_DKMS_CONF = re.compile(r"/usr/src/([^/]+)/dkms\.conf")
_DKMS_TOOL = ("/usr/sbin/dkms", "/usr/bin/dkms", "/sbin/dkms", "/bin/dkms")
_ASSIGN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?=(.*)")
_LOG_TAIL = 800
_OUTPUT_TAIL = 1500
DKMS_TREE = "var/lib/dkms"


@dataclass
class DkmsSource:
    """One DKMS source the new layer will have: what dkms.conf says it builds."""

    name: str               # PACKAGE_NAME
    version: str            # PACKAGE_VERSION
    modules: List[str]      # BUILT_MODULE_NAME[*] (kernel spelling: "-" as "_")
    conf: str               # the dkms.conf as the new layer sees it
    origin: str             # "package NAME", "the new image", "/var/lib/dkms"


@dataclass
class Build:
    """One `dkms install` the packages step runs in the new layer."""

    module: str
    version: str
    kernel: str
    package: str            # the carried package that asks for it
    reason: str
    source: str             # where the DKMS source comes from
    modules: List[str] = field(default_factory=list)    # what must exist afterwards

    def to_dict(self):
        """JSON-ready form."""
        return asdict(self)


@dataclass
class KmodPlan:
    """The kernel modules an update carries: what it builds and what it refuses."""

    kernels: List[str] = field(default_factory=list)    # the new image's
    builds: List[Build] = field(default_factory=list)
    refused: List[str] = field(default_factory=list)    # one line each, for preflight

    def to_dict(self):
        """JSON-ready form: part of update --dry-run."""
        return {"kernels": self.kernels, "builds": [item.to_dict() for item in self.builds],
                "refused": self.refused}

    def render(self):
        """Lines for the human plan."""
        return [f"  module {item.module}/{item.version}: DKMS build for kernel {item.kernel} "
                f"({item.reason}; source: {item.source})" for item in self.builds]

    def by_package(self):
        """{package: "MODULE/VERSION for KVER, ..."}: what the node state records with
        each carried package, so status can show it."""
        found = {}
        for item in self.builds:
            found.setdefault(item.package, []).append(
                f"{item.module}/{item.version} for {item.kernel}")
        return {name: ", ".join(builds) for name, builds in found.items()}


# --- what the packages ship ------------------------------------------------------

def file_list(layer_root, change, layer_var=None):
    """The files of CHANGE's package as LAYER_ROOT's database lists them (dpkg -L,
    rpm -ql): the version the node has installed, which is the one carried."""
    var = layer_var or os.path.join(layer_root, "var")
    if change.manager == "dpkg":
        info = os.path.join(var, "lib/dpkg/info")
        for stem in (change.name, f"{change.name}:{change.arch}"):
            path = os.path.join(info, stem + ".list")
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                    return [line.rstrip("\n") for line in handle if line.strip()]
        return []
    dbpath = persist._rpm_dbpath(layer_root)  # pylint: disable=protected-access
    if dbpath is None:
        return []
    nvra = f"{change.name}-{change.version.split(':', 1)[-1]}.{change.arch}"
    result = run(["rpm", "--root", layer_root, "--dbpath", dbpath, "-ql", nvra], check=False)
    return [line for line in result.stdout.splitlines() if line.startswith("/")]


def module_name(path):
    """The module name of a module file, spelt as the kernel does ("-" as "_")."""
    match = _MODULE.fullmatch(path)
    return match.group(2).replace("-", "_") if match else None


def shipped_modules(files):
    """[(kver, path, name)] of the module files in FILES."""
    found = []
    for path in files:
        match = _MODULE.fullmatch(path)
        if match:
            found.append((match.group(1), path, match.group(2).replace("-", "_")))
    return found


def shipped_kernels(files):
    """Kernel versions whose kernel image FILES contain (a carried kernel package)."""
    return {next(group for group in match.groups() if group)
            for match in map(_KERNEL.fullmatch, files) if match}


# --- DKMS sources ----------------------------------------------------------------

def read_dkms_conf(path):
    """(PACKAGE_NAME, PACKAGE_VERSION, [module names]) of the dkms.conf at PATH, read
    without running it; None when it names no package."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    scalars, arrays = {}, {}
    for line in text.splitlines():
        match = _ASSIGN.fullmatch(line)
        if not match:
            continue
        key, index, value = match.groups()
        value = _expand(_shell_word(value), scalars)
        if index is None:
            scalars[key] = value
        else:
            arrays.setdefault(key, {})[int(index)] = value
    name, version = scalars.get("PACKAGE_NAME"), scalars.get("PACKAGE_VERSION")
    if not name or not version:
        return None
    built = arrays.get("BUILT_MODULE_NAME") or {}
    if "BUILT_MODULE_NAME" in scalars:
        built.setdefault(0, scalars["BUILT_MODULE_NAME"])
    modules = [built[i] for i in sorted(built)] or [name]     # dkms's default
    return name, version, [module.replace("-", "_") for module in modules if module]


def _shell_word(value):
    """The value of a shell assignment's right side: quotes taken off, a comment cut."""
    value = value.strip()
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    return value.split("#", 1)[0].split()[0] if value.split("#", 1)[0].split() else ""


def _expand(value, scalars):
    """$VAR and ${VAR} in VALUE replaced from SCALARS (what dkms.conf files use)."""
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
                  lambda match: scalars.get(match.group(1), ""), value)


def in_root(root, path, hops=40):
    """PATH (absolute, as ROOT sees it) resolved inside ROOT, symlinks followed there;
    the host path, or None when it does not exist."""
    parts = [part for part in path.split("/") if part]
    done = root
    while parts:
        part = parts.pop(0)
        if part == "..":
            done = os.path.dirname(done) if done != root else root
            continue
        candidate = os.path.join(done, part)
        if os.path.islink(candidate):
            hops -= 1
            if hops < 0:
                return None
            target = os.readlink(candidate)
            parts = [p for p in target.split("/") if p] + parts
            if target.startswith("/"):
                done = root
            continue
        if not os.path.lexists(candidate):
            return None
        done = candidate
    return done


def dkms_sources(carried, layer_root, new_root, layer_var):
    """{module name: DkmsSource} of the DKMS sources the new layer will have.

    CARRIED: {package name: its file list}. A carried package's dkms.conf is read
    as the node has it installed; the new image's from NEW_ROOT; a source kept as
    a real directory in the node's /var/lib/dkms (shared, so the new layer has
    it too). A registration whose source is a link into the old layer's /usr/src
    counts only through a package or the image that brings that directory.
    """
    found = []
    for package, files in sorted(carried.items()):
        for path in files:
            if _DKMS_CONF.fullmatch(path):
                found.append((os.path.join(layer_root, path.lstrip("/")), path,
                              f"package {package}"))
    for host in sorted(glob.glob(os.path.join(new_root, "usr/src/*/dkms.conf"))):
        found.append((host, "/" + os.path.relpath(host, new_root), "the new image"))
    for source in sorted(glob.glob(os.path.join(layer_var, "lib/dkms/*/*/source"))):
        if os.path.isdir(source) and not os.path.islink(source):
            rel = os.path.relpath(source, layer_var)
            found.append((os.path.join(source, "dkms.conf"), f"/var/{rel}/dkms.conf",
                          "/var/lib/dkms"))
    sources = {}
    for host, seen, origin in found:
        conf = read_dkms_conf(host)
        if conf is None:
            continue
        source = DkmsSource(conf[0], conf[1], conf[2], seen, origin)
        for name in source.modules:
            sources.setdefault(name, source)
    return sources


# --- the plan ----------------------------------------------------------------------

def plan_kmods(packages, layer_root, new_root, kernels, layer_var=None):
    """The KmodPlan of PACKAGES (a persist.PersistPlan) for the new image's KERNELS.

    LAYER_ROOT: the running layer (its database lists the files), LAYER_VAR
    its /var when elsewhere, NEW_ROOT the new image. Nothing is written.
    """
    plan = KmodPlan(kernels=list(kernels))
    installs = [item for item in (packages.changes if packages and packages.manager else [])
                if item.action == "install"]
    if not installs or not kernels:
        return plan
    var = layer_var or os.path.join(layer_root, "var")
    carried = {item.name: file_list(layer_root, item, var) for item in installs}
    present = set(kernels).union(*(shipped_kernels(files) for files in carried.values()))
    sources = dkms_sources(carried, layer_root, new_root, var)
    builds: Dict[tuple, Build] = {}
    for item in installs:
        files = carried[item.name]
        modules = shipped_modules(files)
        have = {(kver, name) for kver, _, name in modules}
        for kver, path, name in modules:
            if kver in present:
                continue
            missing = [kernel for kernel in kernels if (kernel, name) not in have]
            source = sources.get(name)
            if source is None and missing:
                plan.refused.append(
                    f"package {item.name} {item.version}: kernel module {path} is built for "
                    f"kernel {kver} only, and no DKMS source rebuilds it for the new kernel "
                    f"{', '.join(missing)} (--skip-persisted {item.name} leaves the package "
                    "out)")
                continue
            for kernel in missing:
                builds.setdefault((source.name, source.version, kernel), Build(
                    source.name, source.version, kernel, item.name,
                    f"package {item.name} ships {path} for kernel {kver} only",
                    f"{source.conf} ({source.origin})", source.modules))
        for path in files:
            if not _DKMS_CONF.fullmatch(path):
                continue
            conf = read_dkms_conf(os.path.join(layer_root, path.lstrip("/")))
            if conf is None:
                plan.refused.append(f"package {item.name} {item.version}: {path} is missing "
                                    "on the node or names no PACKAGE_NAME and PACKAGE_VERSION; "
                                    f"dkms cannot build it for the new kernel "
                                    f"{', '.join(kernels)}")
                continue
            for kernel in kernels:
                builds.setdefault((conf[0], conf[1], kernel), Build(
                    conf[0], conf[1], kernel, item.name,
                    f"package {item.name} ships the DKMS source {path}",
                    f"{path} (package {item.name})", conf[2]))
    plan.builds = list(builds.values())
    plan.refused += _build_problems(plan.builds, carried, new_root)
    return plan


def _build_problems(builds, carried, new_root):
    """Why BUILDS cannot run in the new layer: no dkms, or no headers for a kernel."""
    if not builds:
        return []
    shipped = {path for files in carried.values() for path in files}
    problems = []
    first = builds[0]
    if not any(in_root(new_root, tool) for tool in _DKMS_TOOL) and \
            not shipped.intersection(_DKMS_TOOL):
        problems.append(f"module {first.module}/{first.version} needs a DKMS build for the new "
                        f"kernel {first.kernel} ({first.reason}), but the new layer would "
                        "have no dkms: neither the new image nor a carried package has it")
    for kernel in sorted({item.kernel for item in builds}):
        if headers_for(kernel, new_root, shipped):
            continue
        item = next(build for build in builds if build.kernel == kernel)
        problems.append(f"module {item.module}/{item.version} needs a DKMS build for the new "
                        f"kernel {kernel} ({item.reason}), but the new layer would have no "
                        f"headers for it (/lib/modules/{kernel}/build): the new image or a "
                        f"carried package must bring linux-headers-{kernel} or "
                        f"kernel-devel-{kernel}")
    return problems


def headers_for(kernel, new_root, shipped=()):
    """True when the new layer has KERNEL's build tree: in NEW_ROOT, or among the
    SHIPPED files of carried packages."""
    build = in_root(new_root, f"/lib/modules/{kernel}/build")
    if build and os.path.isfile(os.path.join(build, "Makefile")):
        return True
    return any(path in shipped for path in (f"/lib/modules/{kernel}/build",
                                            f"/usr/lib/modules/{kernel}/build",
                                            f"/usr/src/linux-headers-{kernel}/Makefile",
                                            f"/usr/src/kernels/{kernel}/Makefile"))


# --- the step ----------------------------------------------------------------------

@contextlib.contextmanager
def dkms_tree_kept(target, plan):
    """TARGET's /var/lib/dkms (the node's shared /var) put back as it was when the
    block fails; kept as .ovirt-node-old meanwhile, so a killed run's copy is
    put back by the next one. Nothing is copied when PLAN builds nothing."""
    tree = os.path.join(target, DKMS_TREE)
    kept = tree + ".ovirt-node-old"
    absent = kept + ".absent"           # marks "there was no tree" for a killed run
    _restore(tree, kept, absent)
    if plan is None or not plan.builds:
        yield
        return
    if os.path.isdir(tree):
        run(["cp", "-a", tree, kept])
    else:
        open(absent, "w", encoding="utf-8").close()
    try:
        yield
    except BaseException:
        _restore(tree, kept, absent)
        raise
    shutil.rmtree(kept, ignore_errors=True)
    if os.path.lexists(absent):
        os.unlink(absent)


def _restore(tree, kept, absent):
    """A kept copy of the dkms tree (or its recorded absence) put back in place."""
    if os.path.isdir(kept):
        shutil.rmtree(tree, ignore_errors=True)
        os.rename(kept, tree)
    elif os.path.lexists(absent):
        shutil.rmtree(tree, ignore_errors=True)
        os.unlink(absent)


def rebuild(plan, target, reporter=None):
    """Run PLAN's builds in TARGET (the new layer, its volumes mounted); return what
    was built. Raises NodeError with dkms's words when a build fails or leaves a
    module out."""
    if plan is None or not plan.builds:
        return []
    done = []
    with persist.Chroot(target) as chroot:
        for item in plan.builds:
            if reporter is not None:
                reporter.info(f"module {item.module}/{item.version}: building for kernel "
                              f"{item.kernel} with dkms ({item.reason})")
            result = chroot.run(["dkms", "install", "-m", item.module, "-v", item.version,
                                 "-k", item.kernel])
            if result.returncode != 0:
                raise NodeError(f"packages: dkms could not build {item.module}/{item.version} "
                                f"for the new kernel {item.kernel} ({item.reason}; exit "
                                f"{result.returncode}): {_dkms_words(result)}"
                                + _make_log(target, item))
            lost = [name for name in item.modules
                    if not installed_module(target, item.kernel, name)]
            if lost:
                raise NodeError(f"packages: dkms left {', '.join(lost)} of {item.module}/"
                                f"{item.version} out of /lib/modules/{item.kernel} in the new "
                                f"layer ({item.reason}): {(result.stdout or '').strip()[-400:]}")
            done.append(f"{item.module}/{item.version}/{item.kernel}")
    if reporter is not None and done:
        reporter.info("modules built: " + ", ".join(done))
    return done


def installed_module(root, kernel, name):
    """The path of module NAME for KERNEL under ROOT's /lib/modules, or None."""
    base = in_root(root, f"/lib/modules/{kernel}")
    if base is None:
        return None
    for folder, _, files in os.walk(base):
        for file in files:
            path = "/lib/modules/x/" + file
            if module_name(path) == name:
                return os.path.join(folder, file)
    return None


def _dkms_words(result):
    """dkms's own error: its output from "Error!" on (before that it only narrates)."""
    lines = ((result.stdout or "") + (result.stderr or "")).strip().splitlines()
    start = next((index for index, line in enumerate(lines) if line.startswith("Error!")), 0)
    return "\n".join(lines[start:]).strip()[-_OUTPUT_TAIL:]


def _make_log(target, item):
    """The compiler's errors from dkms's make.log for ITEM (else its end), read now:
    the log goes when the dkms tree is put back."""
    for path in (f"{item.module}/{item.version}/build/make.log",
                 f"{item.module}/{item.version}/{item.kernel}/*/log/make.log"):
        for log in sorted(glob.glob(os.path.join(target, DKMS_TREE, path))):
            with open(log, encoding="utf-8", errors="replace") as handle:
                text = handle.read().strip()
            errors = [line for line in text.splitlines() if "error" in line.lower()][:6]
            quoted = "\n".join(errors) if errors else text[-_LOG_TAIL:]
            return f"\nmake.log (quoted; the dkms tree is put back): {quoted}" if text else ""
    return ""
