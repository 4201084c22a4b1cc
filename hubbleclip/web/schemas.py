"""Request and response bodies of the JSON API (they make up its OpenAPI schema).

Requests are strict: no unknown fields, no ``true`` or ``1.0`` or ``"5"`` for an integer, every id
at most MAX_ID_CHARS long and at most MAX_SELECTED of them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_ID_CHARS = 300
MAX_SELECTED = 200
ImageId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
STRICT = ConfigDict(extra="forbid", strict=True)


class ObjectCard(BaseModel):
    object_id: str
    names: list[str]
    type: str
    ra_deg: float | None
    dec_deg: float | None
    ra_dec: str = Field(description="RA/Dec (J2000) in sexagesimal notation ('unknown' without a position)")
    constellation: str
    mag: float | None = Field(description="magnitude (V if known, else B, J, ...); null when unknown")
    score: float
    match: str = Field(
        "ranker", description="why it is listed: exact name, fuzzy name, cone, magnitude or ranker"
    )
    separation_arcsec: float | None = Field(
        None, description="distance from the centre of a cone search (null for other queries)"
    )
    image_id: str | None = Field(
        description="the object's first image in the store; null for catalog-only objects"
    )
    n_images: int
    credit: str | None = Field(description="credit line of the shown image")


class ClassScore(BaseModel):
    label: str
    probability: float
    similarity: float


class SearchResponse(BaseModel):
    query: str
    took_ms: float
    results: list[ObjectCard]
    note: str = Field(
        "",
        description="how the query was read (a name, a cone search, brightness order, ...) "
        "or why it is unusual (e.g. no word in the catalog)",
    )


class ImageSearchResponse(BaseModel):
    took_ms: float
    width: int
    height: int
    results: list[ObjectCard]
    classes: list[ClassScore] = Field(description="top zero-shot classes of the uploaded image")


class ImageCard(BaseModel):
    """An image of a similar-images answer: :class:`hubbleclip.similarity.results.SimilarImage`,
    field for field (the CLI's --json and the demo write the same)."""

    image_id: str
    object_id: str
    names: list[str]
    type: str
    source: str
    credit: str
    score: float | None = Field(
        description="cosine similarity to the query and the selection (null for the query and the selection)"
    )


class SimilarRequest(BaseModel):
    model_config = STRICT

    image_id: ImageId = Field(
        description="the image whose neighbours are wanted: an image id, or an object name or "
        "designation as the search reads it (M57, Messier 57, NGC 06720, Ring Nebula)",
    )
    selected: list[ImageId] = Field(
        default_factory=list,
        max_length=MAX_SELECTED,
        description="selected image ids: when given, the rest is ranked by their combination with the "
        "query image (Rocchio-style: the query and the selection are all examples of what is wanted)",
    )
    offset: int = Field(default=0, ge=0, le=10_000)
    limit: int = Field(default=24, ge=1, le=200)


class SimilarResponse(BaseModel):
    query: ImageCard
    selected: list[ImageCard]
    ranked_by: str = Field(
        description="'query' (neighbours of the image) or 'selection' (the image combined with the "
        "selected ones)"
    )
    offset: int
    results: list[ImageCard]
    has_more: bool
    took_ms: float


class ClustersRequest(BaseModel):
    model_config = STRICT

    image_id: ImageId
    n_clusters: int = Field(default=5, ge=1, le=12)
    n_members: int = Field(default=15, ge=1, le=100)
    pool: int = Field(default=1000, ge=10, le=5000, description="neighbours of the image that are clustered")


class ClusterOut(BaseModel):
    """:class:`hubbleclip.similarity.results.SimilarCluster`, field for field."""

    representative: ImageCard
    members: list[str] = Field(
        description="the representative's nearest members (image ids), preselected on click"
    )
    size: int


class ClustersResponse(BaseModel):
    clusters: list[ClusterOut]
    took_ms: float


class Info(BaseModel):
    index: str
    model: str
    objects: int
    images: int
    similarity: str
    limits: dict[str, int]


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error: one line that names the field or the problem (never a traceback)."""

    detail: str
    errors: list[FieldError] | None = Field(None, description="each invalid field (422 only)")


ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "an upload that cannot be decoded"),
        (401, "an invalid access token (anonymous callers send no Authorization header)"),
        (404, "no such id (ids that are not public yet answer the same)"),
        (413, "upload or request body too large"),
        (415, "not a supported image"),
        (422, "a field is missing or invalid, or the body is not JSON"),
        (500, "internal error (details in the server log)"),
        (503, "too many uploads being decoded at once: retry after the Retry-After seconds"),
    )
}
