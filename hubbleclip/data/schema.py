"""The record format every dataset in hubbleclip shares (skyset, archives, user data).

Each row is one image with its object and text.  Several rows may share an ``object_id``
(several images of one object); splits never put one object in two splits.

``release_date`` (a UTC date; null = public) is the end of a row's proprietary period and
``program_id`` the proposal/program that owns it (what an access token names); see
:mod:`hubbleclip.access`.  Builders that know neither leave them null.
"""

from __future__ import annotations

import datasets

COLUMNS = (
    "id",
    "source",
    "image",
    "object_id",
    "names",
    "type",
    "ra_deg",
    "dec_deg",
    "mag",
    "text",
    "caption",
    "credit",
    "release_date",
    "program_id",
)
# columns a builder may leave out: they default to null (public, no program)
ACCESS_COLUMNS = ("release_date", "program_id")

FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),  # unique per row, e.g. "stellarium:m31"
        "source": datasets.Value("string"),  # openngc | stellarium | first | hdf | ...
        "image": datasets.Image(),  # None for catalog-only objects
        "object_id": datasets.Value("string"),  # e.g. "NGC0224"; shared by images of one object
        "names": datasets.Sequence(datasets.Value("string")),  # ["M31", "NGC 224", "Andromeda Galaxy"]
        "type": datasets.Value("string"),  # normalised class label, see TYPE_LABELS
        "ra_deg": datasets.Value("float64"),
        "dec_deg": datasets.Value("float64"),
        "mag": datasets.Value("float32"),  # V if known, else B, J, ...; NaN if none
        "text": datasets.Value("string"),  # long description from every catalog field
        "caption": datasets.Value("string"),  # short "objects; science use cases" caption
        "credit": datasets.Value("string"),  # image credit / licence line
        "release_date": datasets.Value("date32"),  # end of the proprietary period (UTC); null = public
        "program_id": datasets.Value("string"),  # owning proposal/program, e.g. "11360"; null = none
    }
)

# OpenNGC type code -> normalised label.  Galaxies are refined by Hubble type (see
# hubbleclip.data.text.galaxy_class).
OPENNGC_TYPES = {
    "*": "star",
    "**": "double star",
    "*Ass": "stellar association",
    "OCl": "open cluster",
    "GCl": "globular cluster",
    "Cl+N": "star cluster with nebula",
    "G": "galaxy",
    "GPair": "galaxy pair",
    "GTrpl": "galaxy triplet",
    "GGroup": "galaxy group",
    "PN": "planetary nebula",
    "HII": "HII region",
    "DrkN": "dark nebula",
    "EmN": "emission nebula",
    "Neb": "nebula",
    "RfN": "reflection nebula",
    "SNR": "supernova remnant",
    "Nova": "nova star",
    "NonEx": "nonexistent",
    "Dup": "duplicate",
    "Other": "other",
}
GALAXY_CLASSES = (
    "elliptical galaxy",
    "lenticular galaxy",
    "spiral galaxy",
    "barred spiral galaxy",
    "irregular galaxy",
    "galaxy",
)
FIRST_CLASSES = {
    "FRI": "FRI radio galaxy",
    "FRII": "FRII radio galaxy",
    "Compact": "compact radio source",
    "Bent": "bent-tail radio galaxy",
}
