"""Third-party packages an administrator adds to the running node (issue 17's story).

They are built on the node itself with dpkg-deb, as a vendor's .deb would
arrive: not from the node image's archive, not in apt's cache, so an update
has to rebuild each one from its installed files to carry it (persist.py).

  acme-agent    a systemd service (enabled by its postinst) and a kernel module
                file for the running kernel (a copy of one of the kernel's own
                modules under extra/): carried by the update, its service runs
                in the new layer;
  acme-oldkmod  a module for a kernel neither the node nor the new image has,
                and no DKMS source: preflight refuses the update (kmods.py);
  acme-broken   its postinst fails where the administrator's marker file
                /etc/acme-broken/refuse-reinstall exists, which the /etc merge
                brings into the new layer before the packages step: the
                reinstall fails and the update stops before the switch.
"""

AGENT = "acme-agent"
OLD_KMOD = "acme-oldkmod"
BROKEN = "acme-broken"
DEBS = "/var/tmp/acme-debs"
ABSENT_KERNEL = "6.1.0-0-acme-test-amd64"
BROKEN_MARKER = "/etc/acme-broken/refuse-reinstall"
BROKEN_WORDS = "acme-broken: cannot configure here: the licence server is not reachable"

BUILD = r"""set -e
kver=$(uname -r)
ko=$(find /lib/modules/$kver/kernel -name '*.ko*' -size -64k | sort | head -n 1)
ext=${ko##*.ko}
top=%(debs)s
rm -rf $top && mkdir -p $top
control() {   # NAME ARCH DESCRIPTION
    mkdir -p $top/$1/DEBIAN
    printf 'Package: %%s\nVersion: 1.0\nArchitecture: %%s\nMaintainer: ACME test <test@example.org>\nDescription: %%s\n' \
        "$1" "$2" "$3" > $top/$1/DEBIAN/control
}
script() {    # NAME SCRIPT (stdin)
    cat > $top/$1/DEBIAN/$2 && chmod 755 $top/$1/DEBIAN/$2
}

control %(agent)s amd64 "ACME monitoring agent (third-party test package)"
install -D -m 644 $ko $top/%(agent)s/lib/modules/$kver/extra/acme_agent.ko$ext
mkdir -p $top/%(agent)s/lib/systemd/system
printf '[Unit]\nDescription=ACME monitoring agent\n[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n' \
    > $top/%(agent)s/lib/systemd/system/%(agent)s.service
script %(agent)s postinst <<'EOF'
#!/bin/sh
set -e
systemctl enable %(agent)s.service
if [ -d /run/systemd/system ]; then systemctl start %(agent)s.service; fi
EOF

control %(old)s amd64 "ACME driver built for one kernel only (third-party test package)"
install -D -m 644 $ko $top/%(old)s/lib/modules/%(absent)s/extra/acme_old.ko$ext

control %(broken)s all "ACME tool whose configuration fails on a reinstall (test package)"
mkdir -p $top/%(broken)s/usr/share/%(broken)s
echo 1.0 > $top/%(broken)s/usr/share/%(broken)s/VERSION
script %(broken)s postinst <<'EOF'
#!/bin/sh
if [ -e %(marker)s ]; then
    echo "%(words)s" >&2
    exit 1
fi
EOF

for name in %(agent)s %(old)s %(broken)s; do
    dpkg-deb --root-owner-group --build $top/$name $top/$name.deb >/dev/null
done
echo $kver $ko
""" % {"debs": DEBS, "agent": AGENT, "old": OLD_KMOD, "broken": BROKEN,
       "absent": ABSENT_KERNEL, "marker": BROKEN_MARKER, "words": BROKEN_WORDS}


def build(node):
    """Build the three .debs in DEBS on NODE; return (kernel version, module copied)."""
    kver, module = node.sh(BUILD).split()
    return kver, module


def deb(name):
    """The path of package NAME's .deb on the node."""
    return f"{DEBS}/{name}.deb"
