"""The node spoke's widgets from its glade file, without Anaconda's window.

The spoke window is an AnacondaSpokeWindow (Anaconda's own widget library,
absent outside the installer); its content grid and the list stores are plain
GTK, so they are copied into an interface of their own for Gtk.Builder.
"""

from lxml import etree

CONTENT_ID = "ovirtNodeContent"


def content_interface(glade_path):
    """The glade XML reduced to the top-level models and the content widget."""
    tree = etree.parse(str(glade_path))
    root = etree.Element("interface")
    for requires in tree.getroot().findall("requires"):
        if requires.get("lib") == "gtk+":
            root.append(requires)
    for toplevel in tree.getroot().findall("object"):
        if toplevel.get("class") != "AnacondaSpokeWindow":
            root.append(toplevel)
    root.append(tree.find(f"//object[@id='{CONTENT_ID}']"))
    return etree.tostring(root, encoding="unicode")
