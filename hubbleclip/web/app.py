"""The ASGI app: a JSON API (documented at /docs and /openapi.json) and one static page.

``create_app(engine)`` takes any :class:`~hubbleclip.web.engine.SkyEngine`, so tests and the CLI
inject theirs.  Every error answers a one-line JSON ``detail``; tracebacks stay in the log.

Access: a request without ``Authorization`` is anonymous and sees public rows only; ``Bearer
TOKEN`` sees what the token names (``hubbleclip tokens``).  Every route computes its answer over
the caller's :class:`~hubbleclip.web.engine.View`; an id the caller may not see answers exactly
like an id that does not exist.  Tokens are never logged or echoed.

Bounds on what one request may cost: JSON bodies (``limits.max_body_bytes``, 413), ids and lists
(422, :mod:`hubbleclip.web.schemas`), uploads (bytes and pixels, 413) and the uploads decoded at
once (``limits.max_decodes``, 503 with ``Retry-After`` beyond).  Error messages never echo more
than the first ``SHOWN_CHARS`` characters of anything the caller sent.
"""

from __future__ import annotations

import logging
import time
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from hubbleclip import __version__
from hubbleclip.access.policy import ANONYMOUS, Viewer
from hubbleclip.errors import UserError
from hubbleclip.web.bodies import BodyLimit
from hubbleclip.web.config import Limits
from hubbleclip.web.engine import SkyEngine, View, finite_or_none
from hubbleclip.web.schemas import (
    ERROR_RESPONSES,
    ClassScore,
    ClusterOut,
    ClustersRequest,
    ClustersResponse,
    ImageCard,
    ImageSearchResponse,
    Info,
    ObjectCard,
    SearchResponse,
    SimilarRequest,
    SimilarResponse,
)
from hubbleclip.web.uploads import ALLOWED_TYPES, DecodeSlots, UploadError, check_content_type, decode_image

log = logging.getLogger(__name__)

STATIC = resources.files("hubbleclip.web") / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


SHOWN_CHARS = 80  # of an id or a field name the caller sent, in an error message


def shown(text: str) -> str:
    """``text`` quoted for an error message, cut to SHOWN_CHARS: never echo unbounded input."""
    text = str(text)
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}... ({len(text):,} characters)"


def _error_location(loc) -> str:
    return ".".join(str(p) if len(str(p)) <= SHOWN_CHARS else shown(p) for p in loc)


def _body_problem(exc: BaseException | None) -> str:
    """Why FastAPI could not read a JSON body (it answers a bare 400 for these)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 JSON ({exc.reason} at byte {exc.start})"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    return "could not be read as JSON"


IMAGE_UPLOAD = "/api/search/image"  # streams its body and checks its own limit
UNAUTHORIZED = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
BEARER = HTTPBearer(
    auto_error=False,
    description="an access token from `hubbleclip tokens add`; without one, public rows only",
)


def caller_view(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> View:
    """The caller's view.  A bad, unknown or unaccepted token is a 401 that never echoes it."""
    engine: SkyEngine = request.app.state.engine
    viewer: Viewer | None = ANONYMOUS
    if request.headers.get("authorization") is not None:
        token = credentials.credentials if credentials else ""
        viewer = engine.tokens.viewer(token) if engine.tokens is not None and token else None
    if viewer is None:
        raise HTTPException(401, "invalid access token", headers=UNAUTHORIZED)
    return engine.view(viewer)


Caller = Annotated[View, Depends(caller_view)]


def create_app(engine: SkyEngine, limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    app = FastAPI(
        title="hubbleclip sky search",
        version=__version__,
        description="Find sky objects by text or image, browse similar images, classify an upload. "
        "Without a token only public rows are visible; send `Authorization: Bearer TOKEN` for "
        "proprietary rows of the programs the token names.",
        responses=ERROR_RESPONSES,
    )
    app.state.engine = engine
    app.state.decode_slots = DecodeSlots(limits.max_decodes, limits.decode_queue, limits.decode_wait_s)
    # inside the security headers (added next, so outside this): a 413 carries them too
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, exempt=(IMAGE_UPLOAD,))

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        errors = [
            {"field": _error_location(e.get("loc", ())), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        return JSONResponse(
            status_code=422, content={"detail": f"{first['field']}: {first['message']}", "errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI could not read the body
            message = _body_problem(exc.__cause__)
            return JSONResponse(
                status_code=422,
                content={"detail": f"body: {message}", "errors": [{"field": "body", "message": message}]},
            )
        return JSONResponse(
            status_code=exc.status_code, content={"detail": str(exc.detail)}, headers=exc.headers
        )

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError):
        return JSONResponse(status_code=exc.status, content={"detail": str(exc)}, headers=exc.headers)

    @app.exception_handler(ClientDisconnect)
    async def client_left(request: Request, exc: ClientDisconnect):
        # the client's choice, not a server error: one line, no traceback, and nobody to answer
        log.info(
            "%s %s: the client hung up before its request was complete", request.method, request.url.path
        )
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("error while answering %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal server error (see the server log)"})

    def object_card(hit, view: View) -> ObjectCard:
        """A card from a :class:`hubbleclip.search.searcher.Hit` (of the caller's visible objects)."""
        image_id = hit.image_id if engine.image_visible(view, hit.image_id) else None
        return ObjectCard(
            object_id=hit.object_id,
            names=list(hit.names),
            type=hit.type,
            ra_deg=finite_or_none(hit.ra_deg),
            dec_deg=finite_or_none(hit.dec_deg),
            ra_dec=hit.position,
            constellation=hit.constellation,
            mag=hit.mag,  # rounded by the searcher (float32 noise)
            score=float(hit.score),
            match=hit.match,
            separation_arcsec=hit.separation_arcsec,
            image_id=image_id,
            n_images=hit.n_images,
            credit=engine.store.meta(image_id)["credit"] if image_id else None,
        )

    def image_card(image_id: str, score: float | None = None) -> ImageCard:
        meta = engine.store.meta(image_id)
        return ImageCard(
            image_id=image_id,
            object_id=meta["object_id"],
            names=list(meta["names"] or []),
            type=meta["type"],
            source=meta["source"],
            credit=meta["credit"] or "",
            score=score,
        )

    def require_images(view: View, *image_ids: str) -> None:
        for image_id in image_ids:  # unknown and not yet public: the same answer
            if not (engine.image_visible(view, image_id) and engine.space.contains(image_id, view.space)):
                raise HTTPException(404, f"no image {shown(image_id)} in this index")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/api/info", response_model=Info, summary="what this server searches")
    def info(view: Caller) -> Info:
        index = engine.searcher.index
        return Info(  # names, not the server's file paths
            index=Path(index.path).name,
            model=Path(index.model_spec).name,
            objects=int(view.objects.sum()),
            images=int(view.images.sum()),
            similarity=engine.space.label,
            limits={
                "max_upload_bytes": limits.max_upload_bytes,
                "max_pixels": limits.max_pixels,
                "max_results": limits.max_results,
                "max_body_bytes": limits.max_body_bytes,
            },
        )

    @app.get("/api/search", response_model=SearchResponse, summary="objects matching a text query")
    def search(
        view: Caller,
        q: str = Query(min_length=1, max_length=300, description="free text, e.g. 'andromeda galaxy'"),
        k: int = Query(24, ge=1, le=limits.max_results),
    ) -> SearchResponse:
        if not q.strip():
            raise HTTPException(422, "query.q: the query is blank")
        t0 = time.perf_counter()
        try:
            result = engine.searcher.search(text=q.strip(), k=k, visible=view.objects)
        except UserError as exc:  # a query field that means nothing, e.g. type:foo
            raise HTTPException(422, f"query.q: {exc}") from exc
        return SearchResponse(
            query=q, took_ms=_ms(t0), results=[object_card(h, view) for h in result.hits], note=result.note
        )

    @app.post(
        IMAGE_UPLOAD,
        response_model=ImageSearchResponse,
        summary="objects matching an uploaded image, and its top-5 zero-shot classes",
        description="Send the image file itself as the request body with its Content-Type "
        f"({', '.join(ALLOWED_TYPES)}), at most {limits.max_upload_bytes:,} bytes and "
        f"{limits.max_pixels:,} pixels.",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ALLOWED_TYPES},
            }
        },
    )
    async def search_image(
        request: Request, view: Caller, k: int = Query(24, ge=1, le=limits.max_results)
    ) -> ImageSearchResponse:
        content_type = check_content_type(request.headers.get("content-type"))
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_upload_bytes:
            raise UploadError(
                413,
                f"upload of {int(declared):,} bytes exceeds the limit of {limits.max_upload_bytes:,} bytes",
            )
        body = bytearray()
        async for chunk in request.stream():  # stop reading as soon as the limit is passed
            body += chunk
            if len(body) > limits.max_upload_bytes:
                raise UploadError(413, f"upload exceeds the limit of {limits.max_upload_bytes:,} bytes")
        t0 = time.perf_counter()

        def answer() -> ImageSearchResponse:
            with app.state.decode_slots.slot():  # the decoded image lives until the answer is made
                image = decode_image(
                    bytes(body), content_type, max_bytes=limits.max_upload_bytes, max_pixels=limits.max_pixels
                )
                return search_with(image)

        def search_with(image) -> ImageSearchResponse:
            hits = engine.searcher.search(image=image, k=k, visible=view.objects).hits
            classes = engine.classify(image, 5)  # class lists only: no row is involved
            return ImageSearchResponse(
                took_ms=_ms(t0),
                width=image.width,
                height=image.height,
                results=[object_card(h, view) for h in hits],
                classes=[
                    ClassScore(label=c["class"], probability=c["probability"], similarity=c["similarity"])
                    for c in classes
                ],
            )

        return await run_in_threadpool(answer)

    @app.get(
        "/api/images/{image_id:path}",
        summary="a stored image (a WebP thumbnail, or the original file)",
        responses={200: {"content": {"image/*": {}}}},
    )
    def image(image_id: str, view: Caller, size: str = Query("thumb", pattern="^(thumb|full)$")):
        if not engine.image_visible(view, image_id):  # ids are looked up, never used as paths
            raise HTTPException(404, f"no image {shown(image_id)} in this index")
        data, media = engine.store.thumbnail(image_id) if size == "thumb" else engine.store.original(image_id)
        public = view.viewer is ANONYMOUS  # a token's images must not sit in shared caches
        cache = "public, max-age=86400" if public else "private, no-store"
        return Response(data, media_type=media, headers={"Cache-Control": cache, "Vary": "Authorization"})

    @app.post(
        "/api/similar",
        response_model=SimilarResponse,
        summary="images most similar to one image, or ranked by the combination of selected images",
    )
    def similar(req: SimilarRequest, view: Caller) -> SimilarResponse:
        selected = list(dict.fromkeys(req.selected))
        image_id = engine.space.resolve(req.image_id, view.space)  # an id, or a name as search reads it
        require_images(view, image_id, *selected)
        t0 = time.perf_counter()
        page = engine.space.similar(image_id, selected, req.offset, req.limit, view.space)
        return SimilarResponse(
            query=image_card(image_id),
            selected=[image_card(i) for i in selected],
            ranked_by="selection" if selected else "query",
            offset=req.offset,
            results=[image_card(i, s) for i, s in zip(page.ids, page.scores)],
            has_more=page.has_more,
            took_ms=_ms(t0),
        )

    @app.post(
        "/api/clusters",
        response_model=ClustersResponse,
        summary="quick select: k-means clusters of an image's nearest neighbours",
    )
    def clusters(req: ClustersRequest, view: Caller) -> ClustersResponse:
        image_id = engine.space.resolve(req.image_id, view.space)
        require_images(view, image_id)
        t0 = time.perf_counter()
        try:
            found = engine.space.clusters(image_id, req.n_clusters, req.n_members, req.pool, view.space)
        except ValueError as exc:  # too few images for that many clusters
            raise HTTPException(422, f"body.n_clusters: {exc}") from None
        return ClustersResponse(
            clusters=[
                ClusterOut(representative=image_card(rep), members=members, size=size)
                for rep, members, size in found
            ],
            took_ms=_ms(t0),
        )

    def openapi() -> dict:
        """The schema, with examples drawn from what an anonymous caller may see."""
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            public = engine.view(ANONYMOUS)
            example = next((i for i in engine.space.ids if engine.image_visible(public, i)), None)
            if example is not None and engine.space.contains(example, public.space):
                for name in ("SimilarRequest", "ClustersRequest"):
                    schema["components"]["schemas"][name]["properties"]["image_id"]["examples"] = [example]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app
