"""Node images: build them from a root tree, look inside them.

A node image is a squashfs holding `LiveOS/rootfs.img`, an ext4 image of the
root filesystem (what livemedia-creator `--make-pxe-live` makes and Anaconda's
`liveimg` reads), with the image NVR at `usr/share/imgbase/build/meta/nvr`.
A squashfs whose top is itself a root tree ("plain tree") is accepted too.

One module per job: `squashfs` (superblock, mksquashfs), `ext4` (sizing,
mke2fs, debugfs edits), `mount` (read-only loop mounts), `checksum`
(`IMAGE.sha256`), `rootfacts` (what a root tree says about itself), and the two
doors `build` and `inspect`.
"""
