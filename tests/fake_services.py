"""A loopback stand-in for the archive services, in their documented response formats.

Serves, on 127.0.0.1 and a free port:
- ``/simbad/sync``: SIMBAD TAP sync (ADQL in, VOTable out) for the two query shapes the builder
  sends: keyset pages of bright objects and references of a batch of objects;
- ``/crossref/works``: Crossref works lists for ``filter=doi:A,doi:B``, JATS abstracts;
- ``/hips2fits``: grey JPEG cut-outs of the requested size;
- ``/mast/api/v0/invoke`` (Mast.Caom.Filtered / Mast.Caom.Products, paged) and
  ``/mast/api/v0.1/Download/file`` (JPEG previews, some in colour, none square);
- ``/stsci/<id>.pro``: HST Phase II proposal text files.

Tests inject failures per route (``fail_next``), add latency (``latency``), start an outage after
N answers (``outage_after``) and count requests per route and per exact request (``served``).
``hold_after`` holds a route's answers after the first N until the test sets ``release``; ``holding``
is set when the first one is held, so a test acts at a known point of a build without sleeping.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
import textwrap
import threading
import time
import zlib
from collections import Counter, defaultdict, deque
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

ROUTES = (
    "/simbad/sync",
    "/crossref/works",
    "/hips2fits",
    "/mast/api/v0/invoke",
    "/mast/api/v0.1/Download/file",
    "/stsci/",
)
OTYPES = ("*", "V*", "**", "RG*", "PM*", "Be*", "OpC")


def make_sky(
    n_objects: int, seed: int = 0, malformed: int = 1
) -> tuple[list[dict], dict[int, list[dict]], dict[str, dict]]:
    """Objects (some too faint, ``malformed`` without a position), references and Crossref works."""
    rng = np.random.default_rng(seed)
    objects, refs, works = [], {}, {}
    for i in range(n_objects):
        oid = 1000 + 7 * i
        mags = {
            b: float(rng.uniform(-1.0, 9.0)) if rng.random() < 0.8 else None for b in ("B", "V", "R", "G")
        }
        objects.append(
            {
                "oid": oid,
                "main_id": f"HD  {100000 + i}",
                "ra": float(rng.uniform(0, 360)),
                "dec": float(np.degrees(np.arcsin(rng.uniform(-1, 1)))),
                "otype": OTYPES[i % len(OTYPES)],
                "ids": f"HD {100000 + i}|HIP {50000 + i}|NAME Fake Star {i}|* {i} Tst",
                **mags,
            }
        )
        refs[oid] = []
        for k in range(8):
            doi = f"10.1000/shared.{k}" if k == 7 else f"10.1000/fake.{oid}.{k}"
            refs[oid].append(
                {
                    "bibcode": f"2020Fake..{oid}..{k}",
                    "doi": doi if k != 6 else None,
                    "title": f"SIMBAD title {oid}/{k}",
                    "nbobject": 1 + k % 4,
                    "year": 1990 + k,
                }
            )
            if k != 5:  # Crossref does not know the k=5 papers
                works[doi.lower()] = {
                    "DOI": doi,
                    "title": [f"Paper {k} on HD {100000 + i}"],
                    "abstract": f"<jats:title>Abstract</jats:title><jats:p>Study {k} of star "
                    f"HD {100000 + i} &amp; its spectrum.</jats:p>",
                }
    for j in range(min(malformed, n_objects)):
        objects[-1 - j]["ra"] = None
    return objects, refs, works


def make_proposals(n: int, seed: int = 0) -> tuple[dict[int, dict], dict[int, list[dict]]]:
    """Proposals (one without an abstract) and, per proposal, observations with products and
    release dates (the second proposal is still proprietary)."""
    rng = np.random.default_rng(seed)
    proposals, observations = {}, {}
    for i in range(n):
        pid = 11000 + 13 * i
        proposals[pid] = {
            "title": f"A survey of fake nebulae number {i}",
            "type": "GO",
            "cycle": str(17 + i % 10),
            "pi": f"Dr. Ada Tester{i}",
            "abstract": ""
            if i == n - 1
            else (f"We propose to image {i + 3} planetary nebulae to measure their expansion. " * 3),
        }
        obs = []
        for k in range(3 + i % 4):
            obsid = str(2000000 + pid * 10 + k)
            previews = [
                {
                    "obsid": obsid,
                    "productType": "PREVIEW",
                    "dataURI": f"mast:HST/product/{obsid}_{j}_drz.jpg",
                    "colour": (k == 0 and j == 0),
                }
                for j in range(3)
            ]
            science = [
                {
                    "obsid": obsid,
                    "productType": "SCIENCE",
                    "dataURI": f"mast:HST/product/{obsid}_drz.fits",
                    "colour": False,
                }
            ]
            obs.append(
                {
                    "obsid": obsid,
                    "obs_id": f"ob{obsid}",
                    "target_name": f"NEB-{i}",
                    "s_ra": float(rng.uniform(0, 360)),
                    "s_dec": float(rng.uniform(-60, 60)),
                    "instrument_name": "WFC3/UVIS",
                    "filters": "F656N",
                    # CAOM release date (MJD): the second proposal stays proprietary until 2105
                    "t_obs_release": 90000.25 + k if i == 1 else 55000.5 + 30 * i + k,
                    "products": previews + science,
                }
            )
        observations[pid] = obs
    return proposals, observations


def phase2_text(pid: int, p: dict) -> str:
    rule = "-" * 84
    abstract = "\n".join(textwrap.wrap(p["abstract"], 80))
    return (
        f"{' ' * 50}{pid}(  1) - 01-Jan-2012 00:00:00 - [  1]\n\n{' ' * 18}HUBBLE SPACE TELESCOPE OBSERVING "
        f"PROGRAM {pid}\n\nVersion:  1  Check-in Time: 01-Jan-2012 00:00:00\n\nTitle\n{p['title']}\n{rule}\n"
        f"Type             Cycle\n{p['type']:<17}{p['cycle']}\n{rule}\nInvestigators\n{' ' * 85}Contact?\n"
        f"    PI: {p['pi']:<34}Space Telescope Science Institute     Y\n\n{rule}\n"
        + ("" if not p["abstract"] else f"Abstract\n\n{abstract}\n{rule}\n")
        + "\n  Observations Description\n"
    )


def jpeg(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def votable_bytes(columns: dict[str, list], dtypes: dict[str, str]) -> bytes:
    from astropy.io.votable import from_table
    from astropy.table import MaskedColumn, Table

    table = Table()
    for name, values in columns.items():
        mask = [v is None for v in values]
        fill = "" if dtypes[name] == "U" else 0
        table[name] = MaskedColumn(
            [fill if v is None else v for v in values],
            mask=mask,
            dtype=dtypes[name] if dtypes[name] != "U" else str,
        )
    buf = io.BytesIO()
    from_table(table).to_xml(buf)
    return buf.getvalue()


class FakeServices:
    def __init__(self, n_objects: int = 30, n_proposals: int = 4, seed: int = 0, malformed: int = 1):
        self.objects, self.refs, self.works = make_sky(n_objects, seed, malformed)
        self.proposals, self.observations = make_proposals(n_proposals, seed)
        self.products = {o["obsid"]: o["products"] for obs in self.observations.values() for o in obs}
        self.latency: dict[str, float] = {}
        self.fail_next: dict[str, deque] = defaultdict(deque)  # route -> (status, headers) to answer first
        self.outage_after: dict[str, int] = {}  # route -> answers served before 503s
        self.hold_after: dict[str, int] = {}  # route -> answers served before the rest wait for `release`
        self.holding = threading.Event()  # a request is being held
        self.release = threading.Event()
        self.requests: Counter = Counter()  # route -> requests received
        self.served: Counter = Counter()  # exact request -> 200 answers
        self._admitted: Counter = Counter()  # route -> requests let through
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> FakeServices:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 128
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()  # no handler thread stays blocked after a failed test
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def urls(self) -> dict[str, str]:
        return {
            "tap_url": f"{self.base}/simbad/sync",
            "crossref_url": f"{self.base}/crossref",
            "hips2fits_url": f"{self.base}/hips2fits",
            "mast_url": f"{self.base}/mast",
            "stsci_url": f"{self.base}/stsci",
        }

    def duplicates(self) -> dict[str, int]:
        """Requests answered with 200 more than once (a resumed build should have none)."""
        return {k: n for k, n in self.served.items() if n > 1}

    # ------------------------------------------------------------------ dispatch
    def answer(self, method: str, path: str, query: dict, body: dict) -> tuple[int, dict, bytes]:
        route = next((r for r in ROUTES if path.startswith(r)), None)
        if route is None:
            return 404, {}, b"no such route"
        with self._lock:
            self.requests[route] += 1
            if self.fail_next[route]:
                status, headers = self.fail_next[route].popleft()
                return status, headers, b"injected failure"
            if route in self.outage_after and self._admitted[route] >= self.outage_after[route]:
                return 503, {}, b"outage"
            self._admitted[route] += 1
            held = self._admitted[route] > self.hold_after.get(route, math.inf)
        if held:
            self.holding.set()
            self.release.wait()
        time.sleep(self.latency.get(route, 0.0))
        handler = {
            "/simbad/sync": self._tap,
            "/crossref/works": self._crossref,
            "/hips2fits": self._hips2fits,
            "/mast/api/v0/invoke": self._mast_invoke,
            "/mast/api/v0.1/Download/file": self._mast_download,
            "/stsci/": self._stsci,
        }[route]
        status, headers, data = handler(path, {**query, **body})
        if status == 200:
            key = path + "?" + json.dumps(sorted({**query, **body}.items()))
            with self._lock:
                self.served[key] += 1
        return status, headers, data

    def _tap(self, path, params):
        adql = params.get("QUERY", "")
        if "FROM basic" in adql:
            top = int(re.search(r"TOP (\d+)", adql).group(1))
            after = int(re.search(r"b\.oid > (-?\d+)", adql).group(1))
            limit = float(re.search(r"< ([\d.]+)", adql).group(1))
            rows = [
                o
                for o in self.objects
                if o["oid"] > after and any(o[b] is not None and o[b] < limit for b in ("B", "V", "R", "G"))
            ][:top]
            cols = ["oid", "main_id", "ra", "dec", "otype", "B", "V", "R", "G", "ids"]
            dtypes = {
                "oid": "i8",
                "main_id": "U",
                "ra": "f8",
                "dec": "f8",
                "otype": "U",
                "B": "f4",
                "V": "f4",
                "R": "f4",
                "G": "f4",
                "ids": "U",
            }
            return (
                200,
                {"Content-Type": "application/x-votable+xml"},
                votable_bytes({c: [r[c] for r in rows] for c in cols}, dtypes),
            )
        if "FROM has_ref" in adql:
            oids = [int(x) for x in re.search(r"IN \(([\d, ]+)\)", adql).group(1).split(",")]
            most = int(re.search(r"nbobject <= (\d+)", adql).group(1))
            rows = [
                {"oidref": o, **r}
                for o in oids
                for r in self.refs.get(o, [])
                if r["doi"] is not None and r["nbobject"] <= most
            ]
            cols = {"oidref": "i8", "bibcode": "U", "doi": "U", "title": "U", "nbobject": "i4", "year": "i2"}
            return (
                200,
                {"Content-Type": "application/x-votable+xml"},
                votable_bytes({c: [r[c] for r in rows] for c in cols}, cols),
            )
        err = (
            '<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
            '<RESOURCE type="results"><INFO name="QUERY_STATUS" value="ERROR">unsupported query</INFO>'
            "</RESOURCE></VOTABLE>"
        )
        return 400, {"Content-Type": "application/x-votable+xml"}, err.encode()

    def _crossref(self, path, params):
        dois = [d[4:].lower() for d in params.get("filter", "").split(",") if d.startswith("doi:")]
        items = [self.works[d] for d in dois if d in self.works]
        body = {
            "status": "ok",
            "message-type": "work-list",
            "message-version": "1.0.0",
            "message": {
                "total-results": len(items),
                "items": items,
                "items-per-page": int(params.get("rows", 20)),
            },
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _hips2fits(self, path, params):
        return 200, {"Content-Type": "image/jpeg"}, self._cutout(int(params["width"]), int(params["height"]))

    @staticmethod
    @lru_cache(maxsize=8)
    def _cutout(w: int, h: int) -> bytes:
        """A star on noisy sky (one per size: the benchmark must not be bound by this server's CPU)."""
        yy, xx = np.mgrid[:h, :w]
        sky = np.random.default_rng(w * h).normal(30, 5, (h, w))
        sky += 200 * np.exp(-((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (2 * (w / 40) ** 2))
        return jpeg(np.clip(sky, 0, 255).astype(np.uint8))

    def _mast_invoke(self, path, params):
        request = json.loads(params["request"])
        service, args = request["service"], request["params"]
        if service == "Mast.Caom.Filtered":
            pid = int(next(f["values"][0] for f in args["filters"] if f["paramName"] == "proposal_id"))
            rows = [{k: v for k, v in o.items() if k != "products"} for o in self.observations.get(pid, [])]
        elif service == "Mast.Caom.Products":
            rows = [
                {k: v for k, v in p.items() if k != "colour"}
                for obsid in args["obsid"].split(",")
                for p in self.products.get(obsid, [])
            ]
        else:
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({"status": "ERROR", "msg": "unknown service"}).encode(),
            )
        size, page = int(request["pagesize"]), int(request["page"])
        body = {
            "status": "COMPLETE",
            "msg": "",
            "data": rows[(page - 1) * size : page * size],
            "paging": {
                "page": page,
                "pageSize": size,
                "pagesFiltered": max(1, math.ceil(len(rows) / size)),
                "rows": len(rows[(page - 1) * size : page * size]),
                "rowsFiltered": len(rows),
            },
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _mast_download(self, path, params):
        uri = params.get("uri", "")
        product = next((p for ps in self.products.values() for p in ps if p["dataURI"] == uri), None)
        if product is None:
            return 404, {}, b"not found"
        rng = np.random.default_rng(zlib.crc32(uri.encode()))
        grey = rng.integers(0, 255, (240, 320), dtype=np.uint8)
        if product["colour"]:
            return 200, {"Content-Type": "image/jpeg"}, jpeg(np.stack([grey, grey // 3, 255 - grey], axis=2))
        return 200, {"Content-Type": "image/jpeg"}, jpeg(np.stack([grey] * 3, axis=2))

    def _stsci(self, path, params):
        m = re.fullmatch(r"/stsci/(\d+)\.pro", path)
        if not m or int(m.group(1)) not in self.proposals:
            return 404, {"Content-Type": "text/html"}, b"<html>Not Found</html>"
        return (
            200,
            {"Content-Type": "text/plain"},
            phase2_text(int(m.group(1)), self.proposals[int(m.group(1))]).encode(),
        )


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # a client that gave up (cancelled requests of an interrupted build) is expected here
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServices
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = {}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            raw = self.rfile.read(length).decode()
            body = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        status, headers, data = self.fake.answer(method, url.path, query, body)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")
