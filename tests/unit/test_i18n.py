"""The spokes' texts are translated in the language in force when they are
shown, not when the add-on was imported (Anaconda sets the language later)."""

import subprocess

import pytest

from org_ovirt_node.tui.node_form import TITLE, NodeScreen
from org_ovirt_node.ui import i18n
from org_ovirt_node.ui.presenter import profile_description

CATALOG = f'''\
msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\\n"

msgid "{TITLE}"
msgstr "oVirt-Node-Installation"

msgid "Minimal: a separate /var only"
msgstr "Minimal: nur /var getrennt"
'''


@pytest.fixture
def german_catalog(tmp_path, monkeypatch):
    """A compiled catalog for 'de' in a private locale directory."""
    messages = tmp_path / "de" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (tmp_path / "de.po").write_text(CATALOG, encoding="utf-8")
    subprocess.run(["msgfmt", "-o", str(messages / f"{i18n.DOMAIN}.mo"),
                    str(tmp_path / "de.po")], check=True)
    monkeypatch.setattr(i18n, "LOCALE_DIR", str(tmp_path))
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")


def test_texts_follow_the_language_chosen_after_import(german_catalog, monkeypatch):
    assert NodeScreen.title == TITLE
    assert profile_description("minimal") == "Minimal: a separate /var only"
    monkeypatch.setenv("LANG", "de_DE.UTF-8")  # what Anaconda does when the user picks
    assert NodeScreen.title == "oVirt-Node-Installation"
    assert profile_description("minimal") == "Minimal: nur /var getrennt"
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")  # no catalog: the English text
    assert profile_description("minimal") == "Minimal: a separate /var only"


def test_a_translated_title_ignores_assignments(german_catalog, monkeypatch):
    class Spoke:
        title = i18n.TranslatedText(TITLE)

        def __init__(self):
            self.title = "Default spoke title"  # what Anaconda's base class does

    spoke = Spoke()
    assert spoke.title == TITLE
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert spoke.title == Spoke.title == "oVirt-Node-Installation"
