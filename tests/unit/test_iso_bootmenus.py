"""Boot menu rewriting on plain text: every rule, no ISO needed."""

from org_ovirt_node.iso.bootmenus import (MenuEdit, grub_quote, grub_split, rewrite_grub,
                                          rewrite_isolinux, rewrite_menu, split_args,
                                          udev_escape)
from tests.support.stock_iso import grub_cfg, isolinux_cfg

KS = r"inst.ks=hd:LABEL=NEW\x20ID:/interactive-defaults.ks"


def edit(**kwargs):
    base = dict(add=[KS], remove={"inst.ks"}, old_label="OLD ID", new_label="NEW ID")
    base.update(kwargs)
    return MenuEdit(**base)


def test_udev_escape_matches_udev_whitelist():
    assert udev_escape("RHEL-9.4 x86_64") == r"RHEL-9.4\x20x86_64"
    assert udev_escape("a/b'c") == r"a\x2fb\x27c"
    assert udev_escape("Fedora-E-dvd-x86_64-40") == "Fedora-E-dvd-x86_64-40"


def test_split_args_keeps_quoted_values():
    assert split_args('a b="x y" c') == ["a", 'b="x y"', "c"]


def test_added_ks_replaces_old_one_never_doubles():
    args = ["inst.stage2=hd:LABEL=OLD\\x20ID", "inst.ks=hd:LABEL=OLD\\x20ID:/old.ks", "quiet"]
    new = edit().edit_args(args)
    assert [a for a in new if a.startswith("inst.ks=")] == [KS]
    assert new[0] == r"inst.stage2=hd:LABEL=NEW\x20ID"
    assert edit().edit_args(new) == new  # a second remaster changes nothing more


def test_rm_args_and_duplicates():
    e = edit(add=["quiet", "console=ttyS0"], remove={"rd.live.check"})
    assert e.edit_args(["rd.live.check", "quiet", "console=tty0"]) == \
        ["quiet", "console=tty0", "console=ttyS0"]


def test_relabel_respects_word_boundaries():
    e = edit(old_label="A", new_label="B")
    assert e.relabel("root=live:CDLABEL=A") == "root=live:CDLABEL=B"
    assert e.relabel("inst.stage2=hd:LABEL=AB") == "inst.stage2=hd:LABEL=AB"
    assert e.relabel("inst.ks=hd:LABEL=A:/ks.cfg") == "inst.ks=hd:LABEL=B:/ks.cfg"


def test_isolinux_every_append_line_and_titles():
    text = isolinux_cfg("OLD ID", 60)
    e = edit(titles=[("Test Linux 9.4", "oVirt Node 4.5"), ("Test Linux", "oVirt Node 4.5")])
    new, changed = rewrite_isolinux(text, e)
    appends = [line for line in new.splitlines() if line.strip().startswith("append")]
    assert changed == len(appends) == 4
    for line in appends:
        assert line.count("inst.ks=") == 1 and KS in line
        assert r"LABEL=NEW\x20ID " in line and "OLD" not in line
    assert "menu title oVirt Node 4.5" in new
    assert "^Rescue a oVirt Node 4.5 system" in new
    assert "localboot 0xffff" in new  # entries without a kernel stay as they are


def test_grub_quotes_escapes_so_grub_keeps_the_backslash():
    text = grub_cfg("OLD ID", 60, efi=True)
    new, changed = rewrite_grub(text, edit())
    linux = [line for line in new.splitlines() if line.strip().startswith("linuxefi")]
    assert changed == len(linux) == 4
    for line in linux:
        words = grub_split(line.split(None, 2)[2])
        assert words.count(KS) == 1
        assert r"inst.stage2=hd:LABEL=NEW\x20ID" in words
        assert f"'{KS}'" in line
    assert "search --no-floppy --set=root -l 'NEW ID'" in new
    assert "initrdefi /images/pxeboot/initrd.img" in new


def test_grub_reads_mkksiso_style_unquoted_escapes():
    line = "  linux /vmlinuz inst.stage2=hd:LABEL=OLD\\x20ID quiet\n"
    new, _ = rewrite_grub(line, edit(add=[]))
    assert grub_split(new.split(None, 2)[2]) == [r"inst.stage2=hd:LABEL=NEW\x20ID", "quiet"]


def test_grub_titles_are_quoted():
    text = "menuentry 'Install Test Linux 9.4' --class os {\n}\n"
    new, _ = rewrite_grub(text, edit(titles=[("Test Linux 9.4", "Bob's Node")]))
    assert new.startswith("menuentry 'Install Bob'\\''s Node' --class os {")


def test_grub_quote():
    assert grub_quote("quiet") == "quiet"
    assert grub_quote("a b") == "'a b'"
    assert grub_split(grub_quote("it's $x")) == ["it's $x"]


def test_rewrite_menu_picks_the_syntax_by_file():
    assert rewrite_menu("isolinux/isolinux.cfg", "  append x\n", edit(add=["y"]))[0] == "  append x y\n"
    assert rewrite_menu("EFI/BOOT/grub.cfg", "  linux /k x\n", edit(add=["y"]))[0] == "  linux /k x y\n"
