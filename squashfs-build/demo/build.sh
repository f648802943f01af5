#!/bin/bash
# Build the oVirt Node demo image from Debian packages on this machine.
#
#   squashfs-build/demo/build.sh [OUTDIR]        (default OUTDIR: out/demo)
#
# Writes OUTDIR/NAME.tree/ (the root tree, kept so tests can compare an
# installed layer with it) and OUTDIR/NAME.squashfs (+ .sha256), a node image
# made by `ovirt-node image build`. NAME is "demo" unless DEMO_NAME is set.
#
# Environment:
#   DEMO_NVR           image NVR (default ovirt-node-ng-demo-4.5.5-0.1)
#   DEMO_NAME          output base name (default demo)
#   DEMO_KVER          kernel version to use (default: newest /boot/vmlinuz-* with modules)
#   DEMO_COMPRESSION   zstd (default) or xz
#   SOURCE_DATE_EPOCH  clamp the tree's times and build a reproducible image
#
# Needs root (device nodes, owners) and the packages busybox-static,
# linux-image-amd64, initramfs-tools, lvm2, thin-provisioning-tools, acl, attr,
# squashfs-tools, e2fsprogs, grub-pc-bin, grub-efi-amd64-bin, grub2-common and
# python3.11 (`make deps` installs them).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUTDIR=${1:-$REPO/out/demo}
NVR=${DEMO_NVR:-ovirt-node-ng-demo-4.5.5-0.1}
NAME=${DEMO_NAME:-demo}
COMPRESSION=${DEMO_COMPRESSION:-zstd}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

die() { echo "build.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (device nodes and file owners in the tree)"

# The kernel: the newest Debian kernel that has both an image and modules.
if [ -z "${DEMO_KVER:-}" ]; then
    for kernel in $(ls -v /boot/vmlinuz-* 2>/dev/null); do
        kver=${kernel#/boot/vmlinuz-}
        [ -d "/lib/modules/$kver" ] && DEMO_KVER=$kver
    done
fi
KVER=${DEMO_KVER:-}
[ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ] && [ -d "/lib/modules/$KVER" ] ||
    die "no kernel with modules found (install linux-image-amd64)"
BUSYBOX=$(command -v busybox) || die "busybox not found (install busybox-static)"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is not static (install busybox-static)"

# VERSION is the V of the NVR, RELEASE the R (NAME-VERSION-RELEASE).
RELEASE=${NVR##*-}
VERSION=${NVR%-*}; VERSION=${VERSION##*-}

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
case "$PYTHON" in
    */*) PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON") ;;  # not realpath: keep the venv
esac
TREE=$OUTDIR/$NAME.tree
WORK=$(mktemp -d "$OUTDIR/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
rm -rf "$TREE"
mkdir "$TREE"
cd "$TREE"

echo "==> Root tree in $TREE (kernel $KVER, NVR $NVR)"
# Layout: merged /usr as on EL, with relative links so they resolve in any root.
install -d -m 0755 usr/bin usr/sbin usr/lib usr/lib64 usr/share boot etc etc/kernel \
    dev proc sys run mnt var var/lib var/log var/cache var/spool home
install -d -m 0555 proc sys
install -d -m 0700 root var/log/audit
install -d -m 1777 tmp var/tmp
install -d -m 0755 var/crash
for link in bin sbin lib lib64; do ln -s "usr/$link" "$link"; done

# busybox and its applets; /sbin/init is ours, not busybox's.
install -m 0755 "$BUSYBOX" usr/bin/busybox
"$BUSYBOX" --list-full | while read -r applet; do
    case "$applet" in
        sbin/init|linuxrc|usr/bin/busybox) continue ;;
        bin/*) target=usr/bin/${applet#bin/} ;;
        sbin/*) target=usr/sbin/${applet#sbin/} ;;
        *) target=$applet ;;
    esac
    [ -e "$target" ] || [ -L "$target" ] || ln -s "$(realpath -m --relative-to="$(dirname "$target")" usr/bin/busybox)" "$target"
done

# Binaries taken from this host bring the shared libraries ldd names, at the same paths.
copy_libs() {
    ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
        while read -r lib; do
            [ -e ".$lib" ] || install -D -m 0755 "$(realpath "$lib")" ".$lib"
        done
}

# Static files: init, the ovirt-node command, fstab, kernel arguments, users.
cp -r --no-preserve=ownership "$HERE/rootfs/." .
chmod 0755 usr/sbin/init usr/bin/ovirt-node
chmod 0644 etc/fstab etc/kernel/cmdline etc/passwd etc/group etc/hostname
chmod 0000 etc/shadow
ln -s ../proc/self/mounts etc/mtab
: > etc/machine-id
chmod 0444 etc/machine-id
cat > usr/lib/os-release <<OSRELEASE
NAME="oVirt Node Demo"
VERSION="$VERSION ($RELEASE)"
ID=ovirt-node-demo
VERSION_ID=$VERSION
PRETTY_NAME="oVirt Node Demo $VERSION"
HOME_URL="https://www.ovirt.org/"
VARIANT="oVirt Node"
VARIANT_ID=ovirt-node
OSRELEASE
ln -s ../usr/lib/os-release etc/os-release

# GRUB for BIOS and UEFI, as an EL image carries grub2-tools and the modules:
# `ovirt-node install` runs the image's own grub-mkimage and grub-bios-setup
# chrooted in the new layer and copies these modules onto /boot.
echo "==> GRUB tools and modules (i386-pc, x86_64-efi)"
install -d -m 0755 usr/lib/grub
cp -a /usr/lib/grub/i386-pc /usr/lib/grub/x86_64-efi usr/lib/grub/
install -m 0755 /usr/bin/grub-mkimage usr/bin/grub-mkimage
copy_libs usr/bin/grub-mkimage usr/lib/grub/i386-pc/grub-bios-setup

# Python and this package, so the node runs `ovirt-node boot-ok` at boot. The
# stdlib without tests, GUI/IDE tools, installers of pip, __pycache__ and the
# static libpython (config-*) used only to embed Python.
echo "==> Python 3.11 runtime and org_ovirt_node"
install -m 0755 /usr/bin/python3.11 usr/bin/python3.11
install -d -m 0755 usr/lib/python3.11 usr/lib/python3/dist-packages etc/python3.11
tar -C /usr/lib/python3.11 -cf - --exclude=__pycache__ --exclude=./test --exclude=./idlelib \
    --exclude=./tkinter --exclude=./ensurepip --exclude=./lib2to3 --exclude=./turtledemo \
    --exclude=./site-packages --exclude='./config-3.11-*' . | tar -C usr/lib/python3.11 -xf -
cp /etc/python3.11/sitecustomize.py etc/python3.11/
copy_libs usr/bin/python3.11 usr/lib/python3.11/lib-dynload/*.so
tar -C "$REPO" -cf - --exclude=__pycache__ org_ovirt_node |
    tar -C usr/lib/python3/dist-packages -xf - --no-same-owner
# The image's ext4 stores zero-filled blocks as holes; so does the tree then,
# and the installed layer compares equal to it, holes included.
find usr/lib/grub usr/lib/python3.11 usr/lib/x86_64-linux-gnu usr/lib64 usr/bin/python3.11 \
    usr/bin/grub-mkimage -type f -exec fallocate --dig-holes {} \;

# Kernel and initramfs, with EL names so the installer finds them the same way.
echo "==> Kernel $KVER and an initramfs that can mount a root on an LVM thin LV"
install -m 0755 "/boot/vmlinuz-$KVER" "boot/vmlinuz-$KVER"
[ -f "/boot/config-$KVER" ] && install -m 0644 "/boot/config-$KVER" "boot/config-$KVER"
cp -r "$HERE/initramfs" "$WORK/initramfs-conf"
mkdir -p "$WORK/initramfs-conf/scripts" "$WORK/initramfs-conf/hooks"
mkinitramfs -d "$WORK/initramfs-conf" -o "$WORK/initramfs.img" "$KVER" 2>&1 |
    grep -v -e 'mdadm' -e 'MD subsystem' || true
[ -s "$WORK/initramfs.img" ] || die "mkinitramfs wrote no initramfs"
lsinitramfs "$WORK/initramfs.img" > "$WORK/initramfs.list"
for needed in usr/sbin/lvm usr/sbin/thin_check dm-thin-pool.ko ext4.ko 69-lvm.rules; do
    grep -q "$needed" "$WORK/initramfs.list" || die "the initramfs lacks $needed"
done
install -m 0600 "$WORK/initramfs.img" "boot/initramfs-$KVER.img"

# /var content the installer must carry over to the node's /var volume.
echo "==> /var content and file-kind fixtures"
install -d -m 0755 var/lib/demo
echo "state of the demo node image $NVR" > var/lib/demo/state.txt
install -d -m 0750 -o 1000 -g 1000 var/lib/demo/owned
echo "written by the image build" > var/lib/demo/owned/note
chown 1000:1000 var/lib/demo/owned/note
printf 'demo image %s built\n' "$NVR" > var/log/demo.log
install -d -m 0700 -o 1000 -g 1000 home/demo

# One of every file kind, for the test that compares source and installed layer.
FIX=usr/share/ovirt-node-demo/fixtures
install -d -m 0755 "$FIX" "$FIX/sub"
printf 'data line\n%.0s' $(seq 1 500) > "$FIX/data"
ln "$FIX/data" "$FIX/data.hardlink"
ln "$FIX/data" "$FIX/sub/data.hardlink2"
ln -s data "$FIX/relative-link"
ln -s /usr/share/ovirt-node-demo/fixtures/data "$FIX/absolute-link"
ln -s does-not-exist "$FIX/dangling-link"
ln -s sub "$FIX/dir-link"
echo "tagged" > "$FIX/xattr"
setfattr -n user.demo -v hello "$FIX/xattr"
setfattr -n user.big -v "$(printf 'v%.0s' $(seq 1 300))" "$FIX/xattr"
echo "acl" > "$FIX/acl"
setfacl -m u:1000:rw,g:1000:r "$FIX/acl"
install -d -m 2775 "$FIX/acl-dir"
setfacl -d -m u:1000:rwx "$FIX/acl-dir"
mknod -m 0666 "$FIX/null-copy" c 1 3
mknod -m 0660 "$FIX/loop9-copy" b 7 9
mkfifo -m 0644 "$FIX/fifo"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$FIX/socket"
truncate -s 64M "$FIX/sparse"
printf 'middle' | dd of="$FIX/sparse" bs=1 seek=$((32 << 20)) conv=notrunc status=none
echo '#!/bin/sh' > "$FIX/setuid"; chmod 4755 "$FIX/setuid"
install -d -m 1777 "$FIX/sticky"
echo "mine" > "$FIX/owned"; chown 1000:1000 "$FIX/owned"; chmod 0600 "$FIX/owned"
chown -h 1000:1000 "$FIX/relative-link"
echo "spaces and unicode" > "$FIX/name with spaces é"
: > "$FIX/empty"
touch -h -d @1500000000 "$FIX/data"

if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    # Clamp: nothing in the tree is newer than the epoch.
    find . -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
fi

echo "==> Node image $OUTDIR/$NAME.squashfs"
cd "$REPO"
"$PYTHON" -m org_ovirt_node image build "$TREE" -o "$OUTDIR/$NAME.squashfs" \
    --nvr "$NVR" --compression "$COMPRESSION"
