"""Header and status vocabulary of EDC/IWRS files: which header names which column,
which headers are refused unread (blinding, direct identifiers), which status spellings
mean which canonical status."""

from __future__ import annotations

import re

from ..text import header_tokens, squash

CANONICAL_LABELS = {
    "patient_id": "patient code (patient_id)",
    "site_id": "site id (site_id)",
    "screening_date": "screening date (screening_date)",
    "randomization_date": "randomization date (randomization_date)",
    "status": "status (status)",
}
BLANK_LABELS = {
    "patient_id": "the patient code",
    "site_id": "the site id",
    "screening_date": "the screening date",
    "randomization_date": "the randomization date",
    "status": "the status",
}
#: Accepted header spellings, compared after :func:`squash` (accents, case, spaces,
#: underscores, hyphens and punctuation removed). Examples shown in errors come first.
# fmt: off
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "patient_id": (
        "patient_id", "Patient", "N° patient", "Code patient", "Subject ID", "patientcode",
        "idpatient", "patientnumber", "patientno", "numeropatient", "numpatient", "npatient",
        "nopatient", "numerodupatient", "codedupatient", "subject", "subjid", "usubjid",
        "subjectnumber", "participantid", "participant", "participantcode",
        "identifiantpatient", "codesujet", "numerosujet", "sujet", "screeningnumber",
        "screeningno", "N° d'inclusion", "Numéro d'inclusion", "numeroinclusion",
        "ninclusion", "Patient ID", "Subject number", "N° sujet",
    ),
    "site_id": (
        "site_id", "Site", "N° centre", "Numéro de centre", "Site number", "sitenumber",
        "siteno", "sitecode", "sitenum", "centreid", "centerid", "idcentre", "idcenter",
        "centrenumber", "centernumber", "centreno", "centerno", "numerocentre", "numcentre",
        "ncentre", "nocentre", "codecentre", "centrecode", "numerodusite", "numerosite",
        "studysiteid", "Centre", "Center", "N° de centre", "Numéro centre", "N° site",
        "Site ID", "Centre ID", "Center number",
    ),
    "screening_date": (
        "screening_date", "Screening date", "Date de screening", "Date de sélection",
        "screendate", "datescreening", "dateofscreening", "screeningdt", "scrdt", "scrdate",
        "datescreen", "dateselection", "datepreinclusion", "datedepreinclusion",
        "Date d'inclusion", "Date inclusion", "Inclusion date", "Date of inclusion",
        "Date de screening", "Date screening", "Date of screening",
    ),
    "randomization_date": (
        "randomization_date", "Randomization date", "Date de randomisation",
        "randomisationdate", "daterandomization", "datederandomization", "randdate",
        "randomdate", "dateofrandomization", "dateofrandomisation", "randdt", "randomizationdt",
        "randomisationdt", "randomizeddate", "randomiseddate", "daterando", "datetirageausort",
        "datedetirageausort", "Date randomisation", "Date de randomization",
        "Randomisation date", "Date of randomisation",
    ),
    "status": (
        "status", "Statut", "Patient status", "statutpatient", "statutdupatient",
        "subjectstatus", "studystatus", "statutetude", "participantstatus", "enrollmentstatus",
        "enrolmentstatus", "statutinclusion", "statusinstudy", "État", "Etat du patient",
        "Statut du patient", "Subject status", "Statut patient",
    ),
}
# fmt: on

#: Header tokens (whole words after splitting, accents and case removed) that could reveal
#: treatment allocation. A column whose header has one is refused unread.
_BLIND_TOKEN = re.compile(
    r"arms?|armcd|actarm(cd)?|arm\d+|randarm|treatments?|traitements?|trt\w*|"
    r"groups?|groupes?|grp\w*|kits?|kitno|kitnum\w*|kitid|box|boxes|boxno|boxid|boites?|"
    r"alloc\w*|bras|lots?|lotno|blind\w*|unblind\w*|insu|placebo|verum|itacitinib|"
    r"drugs?|medications?|medicaments?|imp|dispens\w*"
)
#: Unambiguous stems looked for inside the squashed header (catches "TreatmentArm", "KITNO").
# fmt: off
_BLIND_STEMS = (
    "treatment", "traitement", "allocation", "randomisationarm", "randomizationarm",
    "kitnumber", "numerokit", "numerodekit", "boxnumber", "numeroboite", "numerodeboite",
    "trtgrp", "placebo", "itacitinib", "unblind", "leveedinsu", "armcd",
)
# fmt: on
#: Header tokens of direct identifiers (the dashboard takes pseudonymised codes only).
_IDENT_TOKEN = re.compile(
    r"names?|noms?|prenoms?|surnames?|forenames?|firstname|lastname|givenname|familyname|"
    r"middlename|maidenname|birth\w*|dob|ddn|naissance|nir|ssn|nss|secu|ipp|nip|mrn|"
    r"address(es)?|adresses?|addr|phones?|telephones?|tel|mobile|portable|fax|e?mails?|"
    r"courriels?|initials?|initiales?|codepostal|postcode|postalcode|zipcode|zip"
)
# fmt: off
_IDENT_STEMS = (
    "firstname", "lastname", "dateofbirth", "birthdate", "naissance", "securitesociale",
    "socialsecurity", "telephone", "courriel", "email", "adresse", "address", "prenom",
    "identifiantpermanent", "nomdefamille", "nomdusage", "nomdejeunefille",
)
# fmt: on
#: A header naming a centre/site/staff thing is informative, not a patient identifier
#: ("Nom du centre", "Adresse du site", "Nom investigateur").
_CENTRE_CONTEXT = frozenset(
    [
        "centre",
        "center",
        "centres",
        "centers",
        "site",
        "sites",
        "hopital",
        "hospital",
        "hopitaux",
        "etablissement",
        "investigateur",
        "investigator",
        "investigateurs",
        "service",
        "facility",
        "ville",
        "city",
        "promoteur",
        "sponsor",
        "cro",
        "medecin",
        "doctor",
        "physician",
        "arc",
        "tec",
        "etude",
        "study",
        "protocole",
        "protocol",
    ]
)
_PATIENT_CONTEXT = frozenset(
    ["patient", "patients", "patiente", "sujet", "subject", "participant", "malade"]
)

#: Status spellings (squashed) → canonical status.
STATUS_ALIASES: dict[str, str] = {
    "screening": "SCREENING",
    "enscreening": "SCREENING",
    "encoursdescreening": "SCREENING",
    "enselection": "SCREENING",
    "screenfailed": "SCREEN_FAILED",
    "screenfailure": "SCREEN_FAILED",
    "screenfail": "SCREEN_FAILED",
    "screeningfailed": "SCREEN_FAILED",
    "screeningfailure": "SCREEN_FAILED",
    "echecdescreening": "SCREEN_FAILED",
    "echecscreening": "SCREEN_FAILED",
    "echecdeselection": "SCREEN_FAILED",
    "randomized": "RANDOMIZED",
    "randomised": "RANDOMIZED",
    "randomise": "RANDOMIZED",
    "randomisee": "RANDOMIZED",
    "withdrawn": "WITHDRAWN",
    "retire": "WITHDRAWN",
    "retiree": "WITHDRAWN",
    "sortieprematuree": "WITHDRAWN",
    "arretpremature": "WITHDRAWN",
    "completed": "COMPLETED",
    "termine": "COMPLETED",
    "terminee": "COMPLETED",
}


#: Spellings that name a column only loosely: when another column of the file is named
#: for the same thing more precisely ("Centre" beside "N° centre", "Date d'inclusion"
#: beside "Date de sélection"), the loose one is ignored (with a notice) instead of the
#: whole file being refused as ambiguous.
WEAK_ALIASES = frozenset(
    squash(a)
    for a in (
        "Centre",
        "Center",
        "Site",
        "Date d'inclusion",
        "Date inclusion",
        "Inclusion date",
        "Date of inclusion",
        "État",
        "Etat du patient",
    )
)

_ALIAS_INDEX: dict[str, str] = {
    squash(alias): canon for canon, aliases in COLUMN_ALIASES.items() for alias in aliases
}


def classify_header(label: str) -> tuple[str, str | None]:
    """Return (kind, canonical column): kind is used, blind, identifier, unnamed or ignored."""
    squashed = squash(label)
    if not squashed:
        return "unnamed", None
    if squashed in _ALIAS_INDEX:
        return "used", _ALIAS_INDEX[squashed]
    tokens = header_tokens(label)
    if any(_BLIND_TOKEN.fullmatch(t) for t in tokens) or any(s in squashed for s in _BLIND_STEMS):
        return "blind", None
    looks_identifying = any(_IDENT_TOKEN.fullmatch(t) for t in tokens) or any(
        s in squashed for s in _IDENT_STEMS
    )
    if looks_identifying:
        about_centre = bool(
            _CENTRE_CONTEXT.intersection(tokens)
        ) and not _PATIENT_CONTEXT.intersection(tokens)
        if not about_centre:
            return "identifier", None
    return "ignored", None


def normalise_status(value: str) -> str | None:
    """Canonical status of one spelling, or None when unknown."""
    return STATUS_ALIASES.get(squash(value))


__all__ = [
    "BLANK_LABELS",
    "CANONICAL_LABELS",
    "COLUMN_ALIASES",
    "STATUS_ALIASES",
    "WEAK_ALIASES",
    "classify_header",
    "header_tokens",
    "normalise_status",
    "squash",
]
