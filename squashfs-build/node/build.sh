#!/bin/bash
# The real node image: Debian 12 (bookworm) with systemd, LVM, GRUB, sshd,
# sudo and Cockpit, plus the ovirt-node .deb, packed by `ovirt-node image build`.
#
#   build.sh OUTDIR
#
# Environment:
#   NODE_DEB      the ovirt-node .deb to install (make deb builds it); required
#   NODE_NVR      the image NVR (default ovirt-node-ng-4.5.5-0.1)
#   NODE_NAME     output base name (default: the NVR)
#   NODE_KERNEL   cloud (default: linux-image-cloud-amd64) or generic
#                 (linux-image-amd64, every hardware driver)
#   NODE_CACHE    cache folder (default /var/cache/ovirt-node)
#   SOURCE_DATE_EPOCH  clamps every time in the image (default: fixed), so the
#                 same inputs give a byte-identical image
#   PYTHON        the python that runs ovirt-node (default python3)
#
# Two caches, both under NODE_CACHE, so a second build costs nothing:
#   tree-KEY/     the Debian tree (tree.sh: mmdebstrap), keyed by its recipe
#                 (tree.sh, packages.list, rootfs/, the kernel, the epoch) and
#                 the apt archive's sources and Release files, which fix every
#                 package version;
#   image-KEY/    the finished image, keyed by the tree, the .deb, the NVR
#                 and SOURCE_DATE_EPOCH.
# mmdebstrap uses the machine's own apt sources: no mirror is named here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:?usage: build.sh OUTDIR}
deb=${NODE_DEB:?NODE_DEB must name the ovirt-node .deb (make deb)}
nvr=${NODE_NVR:-ovirt-node-ng-4.5.5-0.1}
name=${NODE_NAME:-$nvr}
kernel=${NODE_KERNEL:-cloud}
cache=${NODE_CACHE:-/var/cache/ovirt-node}
python=${PYTHON:-python3}
epoch=${SOURCE_DATE_EPOCH:-1700000000}
export SOURCE_DATE_EPOCH=$epoch

case "$kernel" in
    cloud) kernel_pkg=linux-image-cloud-amd64 ;;
    generic) kernel_pkg=linux-image-amd64 ;;
    *) echo "build.sh: NODE_KERNEL is cloud or generic, not '$kernel'" >&2; exit 2 ;;
esac
[[ "$nvr" =~ ^[A-Za-z0-9_.+-]+-[0-9][A-Za-z0-9_.+]*-[A-Za-z0-9_.+]+$ ]] ||
    { echo "build.sh: NODE_NVR '$nvr' is not name-version-release" >&2; exit 2; }
[ -f "$deb" ] || { echo "build.sh: no .deb at $deb (run make deb)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || { echo "build.sh: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 2; }

# --- the Debian tree (tree.sh), cached by recipe and archive state
tree_key=$( { cat "$here/tree.sh" "$here/packages.list"; echo "$kernel_pkg $epoch";
              (cd "$here/rootfs" && find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %F %a %N';
               find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum);
              cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true;
              cat /var/lib/apt/lists/*Release 2>/dev/null || true; } | sha256sum | cut -c1-16)
tree=$cache/tree-$tree_key
mkdir -p "$cache"
# One build at a time per cache: two runs (two test workers, or a user's two
# shells) would otherwise build into, prune and copy out of the same folders.
exec 9>"$cache/.lock"
flock 9
if [ ! -e "$tree/.complete" ]; then
    echo "build.sh: building the Debian tree ($kernel_pkg) with mmdebstrap; 1-3 minutes" >&2
    rm -rf "$tree" "$tree.tmp"
    "$here/tree.sh" "$tree.tmp" "$kernel_pkg" >&2
    touch "$tree.tmp/.complete"
    mv "$tree.tmp" "$tree"
fi

# --- the image: the tree plus the .deb, os-release and the NVR
rest=${nvr%-*}
version=${rest##*-}
image_key=$( { echo "$tree_key $nvr $epoch"; sha256sum "$deb" | cut -d' ' -f1; } | sha256sum | cut -c1-16)
cached=$cache/image-$image_key
mkdir -p "$out"
if [ ! -e "$cached/.complete" ]; then
    echo "build.sh: making $nvr from the tree and $(basename "$deb")" >&2
    work=$(mktemp -d "$cache/work-XXXXXX")
    trap 'rm -rf "$work"' EXIT
    mkdir "$work/root"
    cp -a "$tree/." "$work/root/"
    rm -f "$work/root/.complete"
    cp "$deb" "$work/root/tmp/ovirt-node.deb"
    chroot "$work/root" dpkg -i /tmp/ovirt-node.deb >&2
    rm -f "$work/root/tmp/ovirt-node.deb" "$work/root/var/log/dpkg.log" "$work/root/var/lib/dpkg/"*-old
    # Byte-compiled once here (hash-checked .pyc with SOURCE_DATE_EPOCH), so
    # the node does not compile at every first boot of a layer.
    chroot "$work/root" python3 -m compileall -q /usr/lib/python3/dist-packages/org_ovirt_node >&2
    cat > "$work/root/usr/lib/os-release" <<EOF
PRETTY_NAME="oVirt Node $version"
NAME="oVirt Node"
VERSION_ID="$version"
VERSION="$version ($nvr)"
ID=ovirt-node
ID_LIKE=debian
VARIANT="oVirt Node"
VARIANT_ID="ovirt-node"
HOME_URL="https://www.ovirt.org/"
EOF
    ln -sfn ../usr/lib/os-release "$work/root/etc/os-release"
    mkdir -p "$work/image"
    "$python" -m org_ovirt_node image build "$work/root" -o "$work/image/$nvr.squashfs" --nvr "$nvr" --force >&2
    rm -rf "$cached"
    mv "$work/image" "$cached"
    touch "$cached/.complete"
fi
touch "$tree" "$cached"          # most recently used, for the pruning below
# The cache stays bounded: the 2 trees and 8 images used last are kept.
ls -1dt "$cache"/tree-* 2>/dev/null | grep -v '\.tmp$' | tail -n +3 | xargs -r rm -rf
ls -1dt "$cache"/image-* 2>/dev/null | tail -n +9 | xargs -r rm -rf
# Renamed into place, never rewritten where it lies: whoever is reading the
# last copy (a test's VM, an images disk being made) keeps reading it whole.
cp "$cached/$nvr.squashfs" "$out/.$name.squashfs.tmp"
sed "s/  .*/  $name.squashfs/" "$cached/$nvr.squashfs.sha256" > "$out/.$name.squashfs.sha256.tmp"
mv -f "$out/.$name.squashfs.tmp" "$out/$name.squashfs"
mv -f "$out/.$name.squashfs.sha256.tmp" "$out/$name.squashfs.sha256"
echo "$out/$name.squashfs"
