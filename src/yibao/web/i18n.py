"""The console's languages: Chinese (default) and English. The texts are English message ids in
the templates and pages; ``locale/zh_CN/LC_MESSAGES/messages.po`` (gettext, edited with Babel's
tools) gives the Chinese, compiled with Babel when first used. English needs no catalogue."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
#: language code -> the name shown in the switch (in its own language)
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"
_CATALOGUES = {"zh": "zh_CN"}


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / _CATALOGUES[lang] / "LC_MESSAGES" / "messages.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English: the message ids themselves)."""
    if lang not in _CATALOGUES:
        return NullTranslations()
    with catalogue_path(lang).open("rb") as fh:
        catalogue = read_po(fh, locale=_CATALOGUES[lang])
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translations(buffer)


def language(value: str | None) -> str:
    """A supported language code, else the default (Chinese)."""
    return value if value in LANGUAGES else DEFAULT
