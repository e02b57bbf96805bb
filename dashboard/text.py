"""Text normalisation shared by every step that matches what people type.

Header names, status spellings and place names are typed by hand in many spellings
("Randomisé", "N° centre", "Saint-Étienne"); each is compared after the same accent
folding, so a word written with or without accents meets itself.
"""

from __future__ import annotations

import re
import unicodedata


def fold_accents(text: str) -> str:
    """``text`` without combining accents (NFKD, marks dropped); case is kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def squash(text: str) -> str:
    """Header or status reduced for matching: no accents, case, spaces or punctuation."""
    return re.sub(r"[^a-z0-9]", "", fold_accents(text).casefold())


def header_tokens(text: str) -> list[str]:
    """Words of a header: accents removed, camelCase split, lower-cased."""
    plain = re.sub(r"([a-z])([A-Z])", r"\1 \2", fold_accents(text))
    return [t for t in re.split(r"[^a-z0-9]+", plain.casefold()) if t]


__all__ = ["fold_accents", "header_tokens", "squash"]
