"""Users and groups across an update, on real passwd/group/shadow/gshadow texts.

Trees under tmp_path stand for the old base's root (OLD), the running
layer's (LOCAL), the new image's (NEW) and the new layer's (TARGET, a copy
of NEW with every owner), each with its /etc. Real files in TARGET are owned
by the IDs the image gave them, so the ownership fix is seen on disk
(the tests run as root).
"""

import os
import subprocess

import pytest

from org_ovirt_node.errors import NodeError
from org_ovirt_node.lifecycle import accounts, etcmerge
from tests.support.fstrees import write

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
messagebus:x:100:107::/nonexistent:/usr/sbin/nologin
sshd:x:101:65534::/run/sshd:/usr/sbin/nologin
"""
GROUP = """root:x:0:
daemon:x:1:
adm:x:4:
sudo:x:27:
systemd-journal:x:999:
systemd-network:x:998:
messagebus:x:107:
"""
SHADOW = """root:*:19700:0:99999:7:::
daemon:*:19700:0:99999:7:::
systemd-network:!*:19700::::::
messagebus:*:19700:0:99999:7:::
sshd:*:19700:0:99999:7:::
"""
GSHADOW = """root:*::
daemon:*::
adm:*::
sudo:*::
systemd-journal:!*::
systemd-network:!*::
messagebus:!::
"""
# the administrator's own user (uid 997, a system ID, and 1000) on the node
ADMIN_PASSWD = "backup:x:997:997:Backup agent:/var/lib/backup:/bin/sh\n" \
               "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
ADMIN_GROUP = "backup:x:997:\nalice:x:1000:\n"
ADMIN_SHADOW = "backup:$6$salt$hash:19800:0:99999:7:::\nalice:$y$j9T$abc$def:19801:0:99999:7:::\n"
ADMIN_GSHADOW = "backup:!::\nalice:!::\n"


def texts(extra_passwd="", extra_group="", extra_shadow="", extra_gshadow="",
          base=(PASSWD, GROUP, SHADOW, GSHADOW)):
    return {"passwd": base[0] + extra_passwd, "group": base[1] + extra_group,
            "shadow": base[2] + extra_shadow, "gshadow": base[3] + extra_gshadow}


class Roots:
    def __init__(self, base):
        self.base = base
        for name in ("old", "local", "new"):
            os.makedirs(base / name / "etc")

    def etc(self, name):
        return str(self.base / name / "etc")

    def put(self, name, files):
        for file_name, text in files.items():
            path = os.path.join(self.etc(name), file_name)
            write(path, text.encode())
            if "shadow" in file_name:
                os.chmod(path, 0o640)
                os.chown(path, 0, 42)

    def start_target(self):
        subprocess.run(["cp", "-a", str(self.base / "new"), str(self.base / "target")],
                       check=True)

    def merge(self):
        items = etcmerge.plan_merge(self.etc("old"), self.etc("local"), self.etc("new"))
        self.start_target()
        conflicts = etcmerge.apply_merge(items, self.etc("local"), self.etc("new"),
                                         self.etc("target"), root=str(self.base / "target"))
        return {item.path: item for item in items}, conflicts

    def read(self, name, file_name):
        with open(os.path.join(self.etc(name), file_name), encoding="utf-8") as handle:
            return handle.read()

    def table(self, name, file_name):
        return {line.split(":")[0]: line.split(":")
                for line in self.read(name, file_name).splitlines()}


@pytest.fixture
def roots(tmp_path):
    return Roots(tmp_path)


def owned(path, uid, gid):
    write(path)
    os.chown(path, uid, gid)


def test_the_nodes_users_and_passwords_are_kept_and_image_additions_appear(roots):
    roots.put("old", texts())
    roots.put("local", texts(ADMIN_PASSWD, ADMIN_GROUP.replace("sudo:x:27:", "") +
                             "", ADMIN_SHADOW, ADMIN_GSHADOW))
    # alice joins sudo on the node; the image adds a user and a group member
    local_group = roots.read("local", "group").replace("sudo:x:27:", "sudo:x:27:alice")
    roots.put("local", {"group": local_group})
    roots.put("new", texts("_chrony:x:996:995:Chrony daemon:/var/lib/chrony:/usr/sbin/nologin\n",
                           "_chrony:x:995:\n", "_chrony:!:19900::::::\n", "_chrony:!::\n",
                           base=(PASSWD, GROUP.replace("adm:x:4:", "adm:x:4:syslog"),
                                 SHADOW, GSHADOW.replace("adm:*::", "adm:*::syslog"))))
    os.setxattr(os.path.join(roots.etc("local"), "passwd"), "user.mark", b"node")
    items, conflicts = roots.merge()
    assert conflicts == [] and not any(path.endswith(".imgnew") for path in items)
    assert {items[name].action for name in accounts.FILES} == {etcmerge.MERGE_ACCOUNTS}
    passwd, shadow = roots.table("target", "passwd"), roots.table("target", "shadow")
    assert passwd["alice"][2:4] == ["1000", "1000"] and passwd["backup"][2] == "997"
    assert passwd["_chrony"][2:4] == ["996", "995"]
    assert shadow["alice"][1] == "$y$j9T$abc$def" and shadow["backup"][1] == "$6$salt$hash"
    assert shadow["_chrony"][1] == "!"
    group = roots.table("target", "group")
    assert group["sudo"][3] == "alice" and group["adm"][3] == "syslog"
    assert roots.table("target", "gshadow")["adm"][3] == "syslog"
    assert list(passwd)[:5] == ["root", "daemon", "systemd-network", "messagebus", "sshd"]
    info = os.stat(os.path.join(roots.etc("target"), "shadow"))
    assert (info.st_mode & 0o777, info.st_uid, info.st_gid) == (0o640, 0, 42)
    assert os.getxattr(os.path.join(roots.etc("target"), "passwd"), "user.mark") == b"node"


def test_an_image_account_on_an_id_the_admin_holds_gets_a_free_one(roots):
    """The new image adds system user and group `backup-image` as 997: the node's backup
    user (the administrator's) has 997, so the image's account moves, and so do its files
    in the new layer; the node's files stay the admin's."""
    roots.put("old", texts())
    roots.put("local", texts(ADMIN_PASSWD, ADMIN_GROUP, ADMIN_SHADOW, ADMIN_GSHADOW))
    roots.put("new", texts("newsvc:x:997:997::/var/lib/newsvc:/usr/sbin/nologin\n",
                           "newsvc:x:997:\n", "newsvc:!:19900::::::\n", "newsvc:!::\n"))
    new = roots.base / "new"
    owned(str(new / "usr/lib/newsvc/state"), 997, 997)
    owned(str(new / "etc/newsvc.conf"), 997, 997)
    owned(str(new / "usr/bin/newsvc-helper"), 997, 997)
    os.chmod(new / "usr/bin/newsvc-helper", 0o4755)            # setuid survives the chown
    os.symlink("state", new / "usr/lib/newsvc/link")
    os.lchown(new / "usr/lib/newsvc/link", 997, 997)
    owned(str(new / "usr/lib/other"), 998, 0)                   # systemd-network's: untouched
    items, conflicts = roots.merge()
    assert conflicts == []
    passwd, group = roots.table("target", "passwd"), roots.table("target", "group")
    assert passwd["backup"][2:4] == ["997", "997"]              # the admin's, unchanged
    # shadow's useradd -r: the highest free system ID (999 is only a GID here)
    assert passwd["newsvc"][2:4] == ["999", "996"] and group["newsvc"][2] == "996"
    target = roots.base / "target"
    for path in ("usr/lib/newsvc/state", "etc/newsvc.conf", "usr/bin/newsvc-helper",
                 "usr/lib/newsvc/link"):
        info = os.lstat(target / path)
        assert (info.st_uid, info.st_gid) == (999, 996), path
    assert os.stat(target / "usr/bin/newsvc-helper").st_mode & 0o7777 == 0o4755
    assert os.stat(target / "usr/lib/other").st_uid == 998
    assert "user newsvc: the image's 997 -> 999 (997 is backup's on the node)" \
        in items["passwd"].reason
    assert "renumbered: group newsvc: the image's 997 -> 996 (997 is backup's on the node)" \
        in items["passwd"].reason


def test_drift_keeps_the_nodes_id_and_fixes_the_new_layers_files(roots):
    """BZ 1909782: the new image's build gave systemd-network 996 where the node has 998."""
    drifted = PASSWD.replace("systemd-network:x:998:998", "systemd-network:x:996:996")
    drifted_group = GROUP.replace("systemd-network:x:998:", "systemd-network:x:996:")
    roots.put("old", texts())
    roots.put("local", texts())
    roots.put("new", texts(base=(drifted, drifted_group, SHADOW, GSHADOW)))
    owned(str(roots.base / "new/etc/systemd/networkd.conf.d/x.conf"), 996, 996)
    owned(str(roots.base / "new/usr/lib/networkd-state"), 0, 996)
    roots.merge()
    assert roots.table("target", "passwd")["systemd-network"][2:4] == ["998", "998"]
    assert roots.table("target", "group")["systemd-network"][2] == "998"
    target = roots.base / "target"
    assert os.stat(target / "etc/systemd/networkd.conf.d/x.conf")[4:6] == (998, 998)
    assert os.stat(target / "usr/lib/networkd-state")[4:6] == (0, 998)


def test_swapped_ids_are_mapped_from_each_files_original_owner(roots):
    roots.put("old", texts("a:x:990:990::/:/bin/false\nb:x:991:991::/:/bin/false\n",
                           "a:x:990:\nb:x:991:\n"))
    roots.put("local", texts("a:x:990:990::/:/bin/false\nb:x:991:991::/:/bin/false\n",
                             "a:x:990:\nb:x:991:\n"))
    roots.put("new", texts("a:x:991:991::/:/bin/false\nb:x:990:990::/:/bin/false\n",
                           "a:x:991:\nb:x:990:\n"))
    owned(str(roots.base / "new/usr/a"), 991, 991)
    owned(str(roots.base / "new/usr/b"), 990, 990)
    roots.merge()
    assert os.stat(roots.base / "target/usr/a")[4:6] == (990, 990)
    assert os.stat(roots.base / "target/usr/b")[4:6] == (991, 991)


def test_a_mounted_volume_below_the_root_is_not_walked(roots, tmp_path):
    roots.put("old", texts())
    roots.put("local", texts(ADMIN_PASSWD, ADMIN_GROUP, ADMIN_SHADOW, ADMIN_GSHADOW))
    roots.put("new", texts("newsvc:x:997:997::/:/usr/sbin/nologin\n", "newsvc:x:997:\n"))
    roots.start_target()
    target = roots.base / "target"
    (target / "var").mkdir()
    owned(str(target / "var/skipped"), 997, 997)
    assert accounts.fix_ownership(str(target), {997: 996}, {}, skip=[str(target / "var")]) == 0
    assert os.stat(target / "var/skipped").st_uid == 997


def test_accounts_deleted_on_the_node_stay_deleted_and_kept_ones_stay(roots):
    roots.put("old", texts("games:x:5:60:games:/usr/games:/usr/sbin/nologin\n"))
    roots.put("local", texts(ADMIN_PASSWD))                      # games deleted locally
    roots.put("new", texts(base=(PASSWD.replace("sshd:", "#sshd:"), GROUP, SHADOW, GSHADOW)))
    roots.merge()
    passwd = roots.table("target", "passwd")
    assert "games" not in passwd and "alice" in passwd and "sshd" in passwd


def test_system_ids_follow_the_images_login_defs():
    assert accounts.free_id({999, 998}, 998, (101, 999)) == 997
    assert accounts.free_id(set(range(101, 1000)) - {500}, 998, (101, 999)) == 500
    assert accounts.free_id({1000, 1001, 1005}, 1000, (101, 999)) == 1006
    with pytest.raises(NodeError, match="no free system ID"):
        accounts.free_id(set(range(0, 1000)), 998, (101, 999))


def test_login_defs_range(tmp_path):
    write(str(tmp_path / "login.defs"), b"SYS_UID_MIN  200\nSYS_UID_MAX 800\n#SYS_GID_MIN 5\n")
    assert accounts.system_range(str(tmp_path), "UID") == (200, 800)
    assert accounts.system_range(str(tmp_path), "GID") == (101, 999)


def test_a_broken_account_file_is_one_error(roots):
    roots.put("old", texts())
    roots.put("local", texts("broken:x:nope:1::/:/bin/false\n"))
    roots.put("new", texts("newsvc:x:996:996::/:/bin/false\n"))
    with pytest.raises(NodeError, match=r"/etc/passwd: broken has no numeric ID"):
        etcmerge.plan_merge(roots.etc("old"), roots.etc("local"), roots.etc("new"))


def test_unchanged_account_files_give_no_item(roots):
    for name in ("old", "local", "new"):
        roots.put(name, texts())
    items, _ = roots.merge()
    assert not set(items) & set(accounts.FILES)


def test_finalize_merges_an_account_added_before_the_reboot(roots):
    """A user added after the update takes the ID the image's new account had: the
    shutdown merge moves the image's account and its files, once."""
    roots.put("old", texts())
    roots.put("local", texts())
    roots.put("new", texts("newsvc:x:996:996::/:/bin/false\n", "newsvc:x:996:\n"))
    owned(str(roots.base / "new/usr/newsvc"), 996, 996)
    roots.merge()
    assert os.stat(roots.base / "target/usr/newsvc").st_uid == 996
    roots.put("local", texts("agent:x:996:996::/:/bin/sh\n", "agent:x:996:\n"))
    written, conflicts = etcmerge.remerge(
        roots.etc("old"), roots.etc("local"), roots.etc("new"), roots.etc("target"),
        ["passwd", "group"], root=str(roots.base / "target"))
    assert conflicts == [] and dict(written) == {"passwd": "merge-accounts",
                                                 "group": "merge-accounts"}
    passwd = roots.table("target", "passwd")
    assert passwd["agent"][2] == "996" and passwd["newsvc"][2:4] == ["999", "997"]
    assert os.stat(roots.base / "target/usr/newsvc")[4:6] == (999, 997)


def test_what_the_update_copies_onto_a_volume_gets_the_moved_ids(roots, tmp_path):
    """/var content the image adds is copied onto the node's /var volume: that copy gets
    the moved IDs; the volume's own files (the admin's backup user's 997) stay."""
    roots.put("old", texts())
    roots.put("local", texts(ADMIN_PASSWD, ADMIN_GROUP, ADMIN_SHADOW, ADMIN_GSHADOW))
    roots.put("new", texts("newsvc:x:997:997::/var/lib/newsvc:/usr/sbin/nologin\n",
                           "newsvc:x:997:\n"))
    items = etcmerge.plan_merge(roots.etc("old"), roots.etc("local"), roots.etc("new"))
    volume = tmp_path / "var"
    owned(str(volume / "lib/backup/data"), 997, 997)           # the admin's
    owned(str(volume / "lib/newsvc/db"), 997, 997)             # copied from the image
    etcmerge.fix_copied_owners(items, str(volume / "lib/newsvc"))
    assert os.stat(volume / "lib/newsvc/db")[4:6] == (999, 996)
    assert os.stat(volume / "lib/newsvc")[4:6] == (0, 0)
    assert os.stat(volume / "lib/backup/data")[4:6] == (997, 997)
