"""Pointing kickstarts at the image copy on the medium."""

from org_ovirt_node.iso.kickstart import default_kickstart, iso_image_url, point_liveimg

URL = iso_image_url("node.img")
SUM = "a" * 64


def test_iso_url_is_where_anaconda_mounts_the_medium():
    assert URL == "file:///run/install/repo/node.img"


def test_existing_liveimg_is_repointed_keeping_other_options():
    text = "lang en_US\nliveimg --url=http://old/x.img --checksum=bad --noverifyssl\nreboot\n"
    new, found = point_liveimg(text, URL, SUM)
    assert found
    assert new.splitlines() == ["lang en_US",
                                f"liveimg --url={URL} --checksum={SUM} --noverifyssl",
                                "reboot"]


def test_separate_option_values_are_dropped_too():
    new, _ = point_liveimg("liveimg --url http://old --proxy http://p:3128\n", URL, SUM)
    assert new == f"liveimg --url={URL} --checksum={SUM} --proxy http://p:3128\n"


def test_kickstart_without_liveimg_gets_one():
    new, found = point_liveimg("text\nreboot\n", URL, SUM)
    assert not found
    assert new.splitlines()[-1] == f"liveimg --url={URL} --checksum={SUM}"


def test_default_kickstart_is_the_rendered_template_for_the_iso_copy():
    text = default_kickstart(r"hd:LABEL=NODE\x20ISO:/node.img", SUM)
    assert f"liveimg --url={URL} --checksum={SUM}" in text
    assert "%addon org_ovirt_node" in text
