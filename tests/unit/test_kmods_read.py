"""kmods.py's readers on plain files: dkms.conf read without running it, module
file names as the kernel spells them, paths resolved inside a root."""

import os

from org_ovirt_node.lifecycle import kmods


def conf(tmp_path, text):
    path = tmp_path / "dkms.conf"
    path.write_text(text)
    return kmods.read_dkms_conf(str(path))


def test_dkms_conf_assignments_quotes_indexes_and_variables(tmp_path):
    assert conf(tmp_path, """# a vendor's dkms.conf
PACKAGE_NAME="acme-nic"
PACKAGE_VERSION=2.3.1   # trailing comment
BUILT_MODULE_NAME[1]='acme_phy'
BUILT_MODULE_NAME[0]="${PACKAGE_NAME}"
MAKE[0]="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/build"
""") == ("acme-nic", "2.3.1", ["acme_nic", "acme_phy"])


def test_dkms_conf_module_defaults_to_the_package_name(tmp_path):
    assert conf(tmp_path, 'PACKAGE_NAME="ovn"\nPACKAGE_VERSION="1"\n') == ("ovn", "1", ["ovn"])


def test_dkms_conf_without_a_name_or_missing_is_none(tmp_path):
    assert conf(tmp_path, 'PACKAGE_VERSION="1"\n') is None
    assert kmods.read_dkms_conf(str(tmp_path / "absent.conf")) is None


def test_module_files_and_kernels_by_path():
    files = ["/lib/modules/6.1.0-1-amd64/extra/acme-nic.ko.xz",
             "/usr/lib/modules/5.14.0-1.el9.x86_64/extra/a/b.ko",
             "/lib/modules/6.1.0-1-amd64/modules.dep",
             "/usr/lib/modules/5.14.0-1.el9.x86_64/vmlinuz", "/boot/vmlinuz-6.1.0-1-amd64",
             "/usr/share/doc/x.ko.txt"]
    assert kmods.shipped_modules(files) == [
        ("6.1.0-1-amd64", files[0], "acme_nic"), ("5.14.0-1.el9.x86_64", files[1], "b")]
    assert kmods.shipped_kernels(files) == {"5.14.0-1.el9.x86_64", "6.1.0-1-amd64"}


def test_in_root_follows_absolute_links_inside_the_root_only(tmp_path):
    root = tmp_path / "root"
    (root / "usr/src/linux-headers-6.1").mkdir(parents=True)
    (root / "usr/lib/modules/6.1").mkdir(parents=True)
    os.symlink("usr/lib", root / "lib")
    os.symlink("/usr/src/linux-headers-6.1", root / "usr/lib/modules/6.1/build")
    os.symlink("/etc", root / "usr/lib/modules/6.1/escape")
    assert kmods.in_root(str(root), "/lib/modules/6.1/build") == \
        str(root / "usr/src/linux-headers-6.1")
    assert kmods.in_root(str(root), "/lib/modules/6.1/escape") is None  # not the host's /etc
    assert kmods.in_root(str(root), "/lib/modules/6.2") is None
