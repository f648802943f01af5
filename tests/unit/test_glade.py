"""The checks Anaconda runs on its own glade files (tests/glade/ there), run
with lxml on every glade file of the add-on, each proven on a bad example."""

import glob
import os
import re

import pytest
from lxml import etree

from tests.support.addon_service import ROOT

GLADE_FILES = sorted(glob.glob(os.path.join(ROOT, "org_ovirt_node", "**", "*.glade"),
                               recursive=True))
# Pango markup elements (what Anaconda's pangocheck accepts).
PANGO_ELEMENTS = {"markup", "span", "b", "big", "i", "s", "sub", "sup", "small", "tt", "u"}
FORMAT_STRING = re.compile(r"%[-(#0 +hlLdiouxXeEfFgGcrs]")
ICON_DIRS = ("/usr/share/icons", "/usr/share/pixmaps")


def duplicate_ids(tree):
    ids = [element.get("id") for element in tree.iter("object")]
    return sorted({id_ for id_ in ids if ids.count(id_) > 1})


def labels_without_mnemonic_widget(tree):
    """Labels with an underlined accelerator that moves focus nowhere."""
    found = []
    for label in tree.xpath("//object[@class='GtkLabel' and "
                            "property[@name='use_underline' and text()='True']]"):
        if label.xpath("property[@name='mnemonic_widget']"):
            continue
        parent = label.getparent()
        in_button = label.xpath("ancestor::object[substring(@class, "
                                "string-length(@class) - 5) = 'Button']")
        in_tab = parent.get("type") == "tab" and \
            parent.getparent().get("class") == "GtkNotebook"
        if not (in_button or in_tab):
            found.append(label.get("id"))
    return found


def dangling_mnemonic_widgets(tree):
    ids = {element.get("id") for element in tree.iter("object")}
    return [prop.text for prop in tree.xpath("//property[@name='mnemonic_widget']")
            if prop.text not in ids]


def stock_items(tree):
    """Deprecated stock icons and stock buttons."""
    return [prop.getparent().get("id") for prop in tree.xpath(
        "//property[@name='stock' or @name='stock_id' or "
        "(@name='use_stock' and text()='True')]")]


def icon_exists(name):
    for top in ICON_DIRS:
        for path in glob.iglob(os.path.join(top, "**", name + ".*"), recursive=True):
            if path.endswith((".png", ".svg")):
                return True
    return False


def missing_icons(tree):
    return [prop.text for prop in tree.xpath(
        "//property[@name='icon_name' or @name='primary_icon_name' or "
        "@name='secondary_icon_name']") if not icon_exists(prop.text)]


def _pango_ok(element):
    return element.tag in PANGO_ELEMENTS and all(_pango_ok(child) for child in element)


def bad_markup(tree):
    """Labels that use markup which Pango would not parse."""
    found = []
    for prop in tree.xpath("//property[@name='label' and "
                           "../property[@name='use_markup' and text()='True']]"):
        try:
            ok = _pango_ok(etree.fromstring(f"<markup>{prop.text or ''}</markup>"))
        except etree.XMLSyntaxError:
            ok = False
        if not ok:
            found.append(prop.getparent().get("id"))
    return found


def translatable_format_strings(tree):
    """Translatable strings with % formats, which gettext cannot check in glade."""
    return [element.text for element in tree.xpath("//*[@translatable='yes']")
            if FORMAT_STRING.search(element.text or "")]


def empty_translatable_strings(tree):
    return [element.getparent().get("id") for element in tree.xpath("//*[@translatable='yes']")
            if not (element.text or "").strip()]


def visible_passwords(tree):
    """Password entries that show what is typed, or hide it with an odd character."""
    found = []
    for entry in tree.xpath("//object[@class='GtkEntry']"):
        purpose = entry.xpath("string(property[@name='input_purpose'])")
        is_password = purpose in ("password", "pin") or \
            re.search("pass(word|phrase)", entry.get("id"), re.IGNORECASE)
        visible = entry.xpath("string(property[@name='visibility'])") != "False"
        if is_password and visible:
            found.append(entry.get("id"))
        invisible_char = entry.xpath("string(property[@name='invisible_char'])")
        if invisible_char not in ("", "●"):
            found.append(entry.get("id"))
    return found


CHECKS = [duplicate_ids, labels_without_mnemonic_widget, dangling_mnemonic_widgets,
          stock_items, missing_icons, bad_markup, translatable_format_strings,
          empty_translatable_strings, visible_passwords]


def test_the_add_on_has_glade_files():
    assert [os.path.basename(path) for path in GLADE_FILES] == ["ovirt_node.glade"]


@pytest.mark.parametrize("path", GLADE_FILES, ids=os.path.basename)
@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_glade_file_passes(path, check):
    assert check(etree.parse(path)) == []


@pytest.mark.parametrize("path", GLADE_FILES, ids=os.path.basename)
def test_glade_file_is_gtk3(path):
    root = etree.parse(path).getroot()
    assert root.tag == "interface"
    assert root.xpath("string(requires[@lib='gtk+']/@version)").startswith("3.")


def interface(body):
    return etree.fromstring(f"<interface>{body}</interface>").getroottree()


BAD_EXAMPLES = [
    (duplicate_ids, '<object class="GtkBox" id="a"/><object class="GtkBox" id="a"/>', ["a"]),
    (labels_without_mnemonic_widget,
     '<object class="GtkLabel" id="l"><property name="use_underline">True</property></object>',
     ["l"]),
    (dangling_mnemonic_widgets,
     '<object class="GtkLabel" id="l"><property name="mnemonic_widget">gone</property></object>',
     ["gone"]),
    (stock_items, '<object class="GtkImage" id="i"><property name="stock">gtk-ok</property>'
                  '</object>', ["i"]),
    (missing_icons, '<object class="GtkImage" id="i">'
                    '<property name="icon_name">no-such-icon-anywhere</property></object>',
     ["no-such-icon-anywhere"]),
    (bad_markup, '<object class="GtkLabel" id="l"><property name="label">&lt;b&gt;x</property>'
                 '<property name="use_markup">True</property></object>', ["l"]),
    (translatable_format_strings,
     '<object class="GtkLabel" id="l"><property name="label" translatable="yes">%s GiB'
     '</property></object>', ["%s GiB"]),
    (empty_translatable_strings,
     '<object class="GtkLabel" id="l"><property name="label" translatable="yes"> </property>'
     '</object>', ["l"]),
    (visible_passwords, '<object class="GtkEntry" id="passwordEntry"/>', ["passwordEntry"]),
]


@pytest.mark.parametrize("check,body,found", BAD_EXAMPLES,
                         ids=[check.__name__ for check, _, _ in BAD_EXAMPLES])
def test_check_finds_its_problem(check, body, found):
    assert check(interface(body)) == found


def test_mnemonics_inside_buttons_need_no_widget():
    body = ('<object class="GtkButton" id="b"><child><object class="GtkLabel" id="l">'
            '<property name="use_underline">True</property></object></child></object>')
    assert labels_without_mnemonic_widget(interface(body)) == []


@pytest.mark.parametrize("path", GLADE_FILES, ids=os.path.basename)
def test_glade_file_and_its_spoke_use_the_add_on_domain(path):
    """As OSCAP's add-on does: the glade's <interface domain> and the spoke's
    translationDomain name the add-on's own catalog, not Anaconda's."""
    import ast  # pylint: disable=import-outside-toplevel
    from org_ovirt_node.ui.i18n import DOMAIN  # pylint: disable=import-outside-toplevel
    assert etree.parse(path).getroot().get("domain") == DOMAIN
    module = ast.parse(open(path[:-len(".glade")] + ".py", encoding="utf-8").read())
    values = {target.id: node.value for node in ast.walk(module) if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name)}
    assert isinstance(values["translationDomain"], ast.Name)
    assert values["translationDomain"].id == "DOMAIN"
