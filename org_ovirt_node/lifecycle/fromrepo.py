"""`ovirt-node update --package NAME --repo URL`: the image-update package from a repository.

What oVirt's engine does with yum (install the newer image-update package,
whose own script runs the update), for one package from one repository,
with the node's own package manager and nothing else configured on the node:

  deb  apt-get with a private source list naming only REPO
       (`deb [trusted=yes] REPO ./`, the flat repository `image package --repo`
       writes), private package lists and cache in the run's folder; the node's
       dpkg database and apt preferences are its own;
  rpm  dnf with only that repository (`--repofrompath`, no reposdir), its
       cache in the run's folder; NAME and NAME-apply (the package whose %pre
       runs the update, image/package.py) at the same version.

The run's folder is on /var/tmp (a node's /tmp may be in memory, the image is
not small): the package files are downloaded there first, and the image, its
.sha256 and .sig and the package's records are taken out of them
(`dpkg-deb -x`, `rpm2cpio | cpio`). update's own preflight (plan_update)
then runs on that image, so `--dry-run` shows exactly the plan `--image`
shows for it, and an update the preflight refuses installs nothing.
Otherwise the downloaded files are installed (`apt-get install ./FILE`,
`dnf install FILES`): the package's script runs `ovirt-node update --image
... --image-package ... --yes`, which takes the lifecycle lock itself, so
this command does not hold it meanwhile. A failing script fails the
transaction; the error is its last line. The folder goes at the end.
"""

import glob
import os
import re
import shutil
import subprocess

from org_ovirt_node.errors import NodeError
from org_ovirt_node.image import package as imagepkg
from org_ovirt_node.util import safeio
from org_ovirt_node.util.run import require_tool, run

WORK_DIR = "/var/tmp"
REPO_ID = "ovirt-node-update"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]{0,127}")
_URL = re.compile(r"(file:///|https?://)[^\s\"'\\\[\]]+")
OUTPUT_TAIL = 4000


def check_request(name, repo):
    """Refuse a package name or repository URL the managers would misread."""
    if not _NAME.fullmatch(name or ""):
        raise NodeError(f"--package {name!r}: not a package name (letters, digits and "
                        "+._- only)")
    if not _URL.fullmatch(repo or ""):
        raise NodeError(f"--repo {repo!r}: give a file:///DIR, http:// or https:// URL "
                        "without spaces or quotes")
    if repo.startswith("file:///") and not os.path.isdir(repo[len("file://"):]):
        raise NodeError(f"--repo {repo}: {repo[len('file://'):]} is not a folder")


def node_format(root="/"):
    """"deb" on a node with dpkg's database and apt-get, "rpm" on one with dnf."""
    if os.path.isfile(os.path.join(root, "var/lib/dpkg/status")) and shutil.which("apt-get"):
        return "deb"
    if shutil.which("dnf"):
        return "rpm"
    raise NodeError("--package needs the node's package manager: neither apt-get (with "
                    "/var/lib/dpkg/status) nor dnf is here")


def apt_options(work, repo):
    """apt-get options: only REPO, lists and cache in WORK (made here)."""
    for name in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(work, name), exist_ok=True)
    sources = os.path.join(work, "sources.list")
    with open(sources, "w", encoding="utf-8") as stream:
        stream.write(f"deb [trusted=yes] {repo} ./\n")
    return ["-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=/nonexistent",
            "-o", f"Dir::State::Lists={work}/lists", "-o", f"Dir::Cache={work}/cache",
            "-o", "APT::Sandbox::User=root", "-q"]


def dnf_options(work, repo, root="/"):
    """dnf options: only REPO, unsigned (as `image package --repo` writes it), cache in WORK."""
    return ["-y", "-q", f"--installroot={root}", "--setopt=reposdir=/nonexistent",
            f"--setopt=cachedir={work}/dnfcache", f"--repofrompath={REPO_ID},{repo}",
            f"--repo={REPO_ID}", "--nogpgcheck", f"--setopt={REPO_ID}.metadata_expire=0"]


def _manager_error(result, what):
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("E: ", "Error: "))]
    return f"{what}: {(errors or lines or ['exit status %d' % result.returncode])[-1].strip()}"


def _run(cmd, what, cwd=None, env=None):
    result = run(cmd, check=False, cwd=cwd, env=env)
    if result.returncode != 0:
        raise NodeError(_manager_error(result, what))
    return result


def fetch(fmt, name, repo, work, root="/"):
    """Download NAME's newest version from REPO into WORK/download.

    Returns (version, [files]): the package first, for rpm its -apply package after.
    """
    download = os.path.join(work, "download")
    os.makedirs(download, exist_ok=True)
    if fmt == "deb":
        require_tool("dpkg-deb", "dpkg")
        options = apt_options(work, repo)
        _run(["apt-get", *options, "update"], f"apt-get update from {repo}")
        _run(["apt-get", *options, "download", name], f"apt-get download {name} from {repo}",
             cwd=download)
        files = sorted(glob.glob(os.path.join(download, f"{glob.escape(name)}_*.deb")))
        if len(files) != 1:
            raise NodeError(f"apt-get download {name} left {len(files)} files in {download}")
        version = run(["dpkg-deb", "--field", files[0], "Version"]).stdout.strip()
        return version, files
    require_tool("rpm2cpio", "rpm")
    options = dnf_options(work, repo, root)
    apply = f"{name}-apply"
    _run(["dnf", *options, "download", f"--destdir={download}", name],
         f"dnf download {name} from {repo}")
    files = [path for path in glob.glob(os.path.join(download, "*.rpm"))
             if _rpm_field(path, "%{NAME}") == name]
    if len(files) != 1:
        raise NodeError(f"dnf download {name} left {len(files)} packages named so in {download}")
    version = _rpm_field(files[0], "%{VERSION}-%{RELEASE}")
    _run(["dnf", *options, "download", f"--destdir={download}", f"{apply}-{version}"],
         f"dnf download {apply}-{version} from {repo} (its %pre runs the update)")
    files += [path for path in glob.glob(os.path.join(download, "*.rpm"))
              if _rpm_field(path, "%{NAME}") == apply]
    return version, files


def _rpm_field(path, query):
    return run(["rpm", "-qp", "--nosignature", "--nodigest", "--qf", query, path]).stdout.strip()


def extract(fmt, files, target):
    """Unpack the package FILES into TARGET; return (image, [record files]) they carry."""
    os.makedirs(target, exist_ok=True)
    for path in files:
        if fmt == "deb":
            run(["dpkg-deb", "-x", path, target])
            continue
        with subprocess.Popen(["rpm2cpio", path], stdout=subprocess.PIPE) as rpm2cpio:
            unpack = subprocess.run(["cpio", "-idm", "--quiet", "--no-absolute-filenames",
                                     "-D", target], stdin=rpm2cpio.stdout,
                                    capture_output=True, text=True, check=False)
            rpm2cpio.stdout.close()
        if rpm2cpio.returncode != 0 or unpack.returncode != 0:
            raise NodeError(f"cannot unpack {path}: {unpack.stderr.strip() or 'rpm2cpio failed'}")
    images = sorted(glob.glob(os.path.join(target, imagepkg.IMAGE_DIR.lstrip("/"),
                                           "*.squashfs.img")))
    if len(images) != 1:
        raise NodeError(f"{', '.join(os.path.basename(path) for path in files)}: "
                        f"{len(images)} node images under {imagepkg.IMAGE_DIR}, not one")
    records = sorted(path for path in glob.glob(os.path.join(
        target, imagepkg.RECORD_DIR.lstrip("/"), "*")) if os.path.getsize(path) > 0)
    return images[0], records


def install(fmt, files, repo, work, allow_downgrade=False):
    """Install the downloaded FILES with the node's manager; their script runs the update.

    Returns the tail of the manager's output; a failure is one NodeError,
    the script's own last line (`ovirt-node-ng-image-update: ...`) when it said one.
    """
    if fmt == "deb":
        cmd = ["apt-get", *apt_options(work, repo), "install", "-y", "--no-install-recommends"]
        cmd += ["--allow-downgrades"] if allow_downgrade else []
        env = {"DEBIAN_FRONTEND": "noninteractive"}
    else:
        cmd = ["dnf", *dnf_options(work, repo), "install"]
        env = None
    result = run(cmd + [os.path.abspath(path) for path in files], check=False, env=env)
    output = (result.stdout + result.stderr)[-OUTPUT_TAIL:]
    if result.returncode != 0:
        said = [line.strip() for line in (result.stdout + result.stderr).splitlines()
                if line.startswith(imagepkg.PACKAGE + ": ")]
        what = f"installing {', '.join(os.path.basename(path) for path in files)}"
        raise NodeError(f"{what} failed: {said[-1]}" if said else _manager_error(result, what))
    return output


def work_dir():
    """A new folder for one run on /var/tmp (stale ones of killed runs go first)."""
    return safeio.make_temp_dir("updatepkg", directory=WORK_DIR)
