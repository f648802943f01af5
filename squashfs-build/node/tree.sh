#!/bin/bash
# The node's Debian tree: mmdebstrap over the machine's own apt sources.
#
#   tree.sh TREE KERNEL_PACKAGE
#
# Run by build.sh when its cache has no tree for this recipe. Purging
# usrmerge and perl (usr-is-merged satisfies init-system-helpers instead)
# saves about 50 MiB and leaves dpkg's database consistent; SSH host keys
# are made per node at first boot, never shipped; logs and caches that would
# differ between two builds are dropped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=${1:?usage: tree.sh TREE KERNEL_PACKAGE}
kernel_pkg=${2:?usage: tree.sh TREE KERNEL_PACKAGE}
packages=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/packages.list" | tr '\n' ',')
mmdebstrap --variant=minbase --include="$packages$kernel_pkg" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='chroot "$1" dpkg --purge usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl perl-modules-5.36 libperl5.36' \
    --customize-hook="cp -a '$here/rootfs/.' \"\$1/\"" \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_* "$1"/var/lib/dbus/machine-id "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old' \
    --customize-hook='rm -rf "$1"/var/log/apt/* "$1"/var/log/*.log "$1"/var/cache/ldconfig/aux-cache' \
    --customize-hook=': > "$1"/etc/machine-id' \
    bookworm "$tree"
