"""The reports' own German catalogue (reports/locale/) speaks the product's terms: the same
words as the main catalogue (docs/i18n.md: Unterhaltung, Erledigt, Agent, Label, Broadcast),
and its committed .mo is the compiled .po."""

from __future__ import annotations

import re
from pathlib import Path

import polib
from django.conf import settings
from django.utils import translation

from config.tests.test_i18n import catalogue_table

BASE_DIR = Path(settings.BASE_DIR)
MAIN_PO = BASE_DIR / "locale" / "de" / "LC_MESSAGES" / "django.po"
REPORTS_PO = BASE_DIR / "reports" / "locale" / "de" / "LC_MESSAGES" / "django.po"
REPORTS_MO = BASE_DIR / "reports" / "locale" / "de" / "LC_MESSAGES" / "django.mo"

# Words the main catalogue does not use for its product terms: a thread or conversation is an
# "Unterhaltung", resolving is "erledigen" ("gelöst"/"Lösung" read as a solved problem).
FOREIGN_TERMS = re.compile(r"Gespräch|gelöst|Lösung|Konversation|Thread|Mitarbeiter|Etikett|Schlagwort", re.IGNORECASE)


def _texts(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


def test_reports_use_the_main_catalogues_terms() -> None:
    reports = polib.pofile(str(REPORTS_PO))
    foreign = [(e.msgid, text) for e in reports if not e.obsolete for text in _texts(e) if FOREIGN_TERMS.search(text)]
    assert not foreign, f"use the main catalogue's terms (docs/i18n.md): {foreign}"


def test_a_text_in_both_catalogues_is_translated_alike() -> None:
    main = catalogue_table(polib.pofile(str(MAIN_PO)))
    reports = catalogue_table(polib.pofile(str(REPORTS_PO)))
    differing = {key: (main[key], value) for key, value in reports.items() if key in main and main[key] != value}
    assert not differing


def test_the_committed_mo_is_the_compiled_po() -> None:
    po = polib.pofile(str(REPORTS_PO))
    assert not [e.msgid for e in po if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
    assert catalogue_table(polib.mofile(str(REPORTS_MO))) == catalogue_table(po), "run `make messages` (docs/i18n.md)"


def test_the_served_german_says_erledigt_and_unterhaltung() -> None:
    with translation.override("de"):
        assert translation.gettext("Conversations resolved") == "Erledigte Unterhaltungen"
        assert translation.gettext("resolved") == "erledigt"
        assert translation.gettext("Resolved") == "Erledigt"
