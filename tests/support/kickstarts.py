"""Kickstart and inventory snippets the ks tests share."""

import textwrap

IMAGE = "http://repo.example.com/images/ovirt-node-ng-4.5.5-0.20240101.0.squashfs"
SHA = "sha256:" + "ab" * 32

# A complete, valid unattended node kickstart: explicit thin layout.
GOOD_KS = textwrap.dedent(f"""\
    text
    lang en_US.UTF-8
    keyboard --vckeymap=us
    timezone Etc/UTC --utc
    rootpw --lock
    zerombr
    clearpart --all --initlabel
    reqpart
    part /boot --size=1024
    part pv.1 --size=1 --grow
    volgroup onn pv.1
    logvol none --vgname=onn --name=pool00 --thinpool --size=1 --grow
    logvol / --vgname=onn --name=root --thin --poolname=pool00 --size=6144
    liveimg --url={IMAGE}
    %addon org_ovirt_node --image={IMAGE}
    --volume=/var/log:16GiB
    %end
    reboot
    """)

INVENTORY = textwrap.dedent(f"""\
    defaults:
      image_url: {IMAGE}
      checksum: {SHA}
      disks: [sda]
      root_ssh_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey admin@example.com
      network:
        nameservers: [192.0.2.53]
    hosts:
      - hostname: node01.example.com
        mac: 52:54:00:00:00:01
      - hostname: node02.example.com
        mac: 52:54:00:00:00:02
        network: {{device: eno1, ip: 192.0.2.12/24, gateway: 192.0.2.1}}
      - hostname: node03.example.com
        mac: 52:54:00:00:00:03
        disks: [sda, /dev/sdb]
        root_password_hash: $6$salt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV./
        node: {{vg: vg_node, pool: thin, volumes: minimal, volume: {{/srv: 20GiB}}}}
        network:
          device: bond0
          ip: 198.51.100.13/24
          gateway: 198.51.100.1
          bond: {{slaves: [eno1, eno2], options: "mode=802.3ad,miimon=100"}}
          vlan: 100
    """)

# The smallest inventory render takes: one host, no checksum or network.
ONE_HOST_INVENTORY = textwrap.dedent("""\
    defaults:
      image_url: http://repo.example.com/node.squashfs
      disks: [sda]
      root_password_hash: $6$salt$hash
    hosts:
      - hostname: node01.example.com
        mac: 52:54:00:00:00:01
    """)


def with_lines(path, text):
    """Write TEXT to PATH and return PATH as a string."""
    path.write_text(text, encoding="utf-8")
    return str(path)

# The classic way, no section: liveimg, an explicit thin layout with /var,
# and imgbased in %post.
CLASSIC_KS = textwrap.dedent(f"""\
    text
    rootpw --lock
    zerombr
    clearpart --all --initlabel
    part /boot --size=1024
    part pv.01 --size=1 --grow
    volgroup HostVG pv.01
    logvol none --vgname=HostVG --name=HostPool --thinpool --size=1 --grow
    logvol / --vgname=HostVG --name=root --thin --poolname=HostPool --size=6000
    logvol /var --vgname=HostVG --name=var --thin --poolname=HostPool --size=15000
    liveimg --url={IMAGE}
    reboot
    %post --erroronfail
    imgbase layout --init
    %end
    """)
