"""A loopback STScI + MAST for HST builds by cycle, answering in the services' real shapes.

On top of :class:`fake_services.FakeServices` (its server, failure injection and request counts):
- ``/stsci/abstracts.cat``: the sample catalogue ``tests/data/hst/abstracts.cat``;
- ``/mast/api/v0/invoke``: ``Mast.Caom.Filtered`` rows with only the requested ``columns`` and
  ``Mast.Caom.Products`` rows with the portal's product columns, where a combined (HAP) preview
  carries a member's ``obsID`` and the queried observation as ``parent_obsid``; both with
  ``fields`` and ``paging`` as the portal sends them;
- ``/mast/api/v0.1/Download/file``: 320x240 preview JPEGs, grey or in colour.

``PLAN`` says what MAST holds for each proposal of the sample catalogue; the tests' expectations
are worked out by hand from it.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import numpy as np
from fake_services import FakeServices, jpeg

CATALOGUE = Path(__file__).parent / "data" / "hst" / "abstracts.cat"

# proposal -> one entry per observation: its previews as (kind, pixels); kind "total" is a
# combined image, "f656n" a single-filter one, "color" a colour composite named as such
GREY, COLOUR = "grey", "colour"
PLAN: dict[int, list[list[tuple[str, str]]]] = {
    14000: [[("total", GREY), ("f656n", GREY), ("color", COLOUR)]] * 2,
    14500: [[("total", GREY), ("f502n", GREY), ("color", COLOUR)]] * 2,
    14501: [],  # calibration: no image observations
    14502: [[("total", GREY)]],  # never asked for: the catalogue has no abstract
    15000: [[("total", COLOUR), ("color", COLOUR)]],  # colour pixels under a plain name
    15001: [[("total", GREY), ("total", GREY), ("f814w", GREY), ("color", COLOUR)]] * 3,
    15002: [[("total", GREY), ("f336w", GREY)]],
    15500: [[("total", GREY)]],
}


def _observations(pid: int) -> list[dict]:
    out = []
    for k, previews in enumerate(PLAN.get(pid, [])):
        obsid = str(2_000_000 + pid * 10 + k)
        products = []
        for j, (kind, pixels) in enumerate(previews):
            name = f"hst_{pid}_{k:02d}_wfc3_uvis_{kind}_ie{pid % 1000:03d}{k}{j}_drc.jpg"
            products.append(
                {
                    # a combined preview is listed under a member observation's obsID
                    "obsID": str(int(obsid) + 500 + j) if kind == "total" else obsid,
                    "obs_collection": "HST",
                    "dataproduct_type": "image",
                    "obs_id": f"hst_{pid}_{k:02d}_wfc3_uvis_{kind}",
                    "description": "Preview-Full",
                    "type": "D",
                    "dataURI": f"mast:HST/product/{name}",
                    "productType": "PREVIEW",
                    "productGroupDescription": "",
                    "productSubGroupDescription": "DRC",
                    "productDocumentationURL": "",
                    "project": "HAP-SVM",
                    "prvversion": "3.3.1",
                    "proposal_id": str(pid),
                    "productFilename": name,
                    "size": 48213 + j,
                    "parent_obsid": obsid,
                    "dataRights": "PUBLIC",
                    "calib_level": 3,
                    "_colour": pixels == COLOUR,
                }
            )
        fits = f"hst_{pid}_{k:02d}_wfc3_uvis_total_drc.fits"
        products.append(
            {**products[0], "dataURI": f"mast:HST/product/{fits}", "productFilename": fits}
            | {"productType": "SCIENCE", "description": "DADS DRC file", "obsID": obsid, "_colour": False}
        )
        out.append(
            {
                "obsid": obsid,
                "obs_id": f"ie{pid % 1000:03d}{k:02d}0",
                "obs_collection": "HST",
                "dataproduct_type": "image",
                "instrument_name": "WFC3/UVIS",
                "filters": "F656N;F814W",
                "target_name": f"TARGET-{pid}-{k}",
                "s_ra": 10.0 + pid % 300 + k,
                "s_dec": -20.0 + k,
                "proposal_id": str(pid),
                "t_obs_release": 58000.5 + pid % 1000 + k,  # MJD, all in the past
                "dataRights": "PUBLIC",
                "_products": products,
            }
        )
    return out


def _portal(rows: list[dict], size: int, page: int) -> bytes:
    """A portal answer: one page of rows with their ``fields`` and ``paging``."""
    chunk = rows[(page - 1) * size : page * size]
    names = list(chunk[0]) if chunk else []
    return json.dumps(
        {
            "status": "COMPLETE",
            "msg": "",
            "data": chunk,
            "fields": [{"name": n, "type": "string"} for n in names],
            "paging": {
                "page": page,
                "pageSize": size,
                "pagesFiltered": max(1, math.ceil(len(rows) / size)),
                "rows": len(chunk),
                "rowsFiltered": len(rows),
                "rowsTotal": len(rows),
            },
        }
    ).encode()


class FakeHST(FakeServices):
    def __init__(self, catalogue: bytes | None = None):
        super().__init__(n_objects=0, n_proposals=0, malformed=0)
        self.catalogue = CATALOGUE.read_bytes() if catalogue is None else catalogue
        self.observations = {pid: _observations(pid) for pid in PLAN}
        self.products = {o["obsid"]: o["_products"] for obs in self.observations.values() for o in obs}
        self.colour = {p["dataURI"]: p["_colour"] for ps in self.products.values() for p in ps}

    def urls(self) -> dict[str, str]:
        return {**super().urls(), "abstracts_url": f"{self.base}/stsci/abstracts.cat"}

    def mast_proposals(self) -> set[int]:
        """The proposals whose observations were asked for."""
        asked = set()
        for key in self.served:
            if key.startswith("/mast/api/v0/invoke"):
                request = json.loads(dict(json.loads(key.split("?", 1)[1]))["request"])
                if request["service"] == "Mast.Caom.Filtered":
                    asked |= {
                        int(f["values"][0])
                        for f in request["params"]["filters"]
                        if f["paramName"] == "proposal_id"
                    }
        return asked

    def _stsci(self, path, params):
        if path == "/stsci/abstracts.cat":
            return 200, {"Content-Type": "text/plain"}, self.catalogue
        return 404, {"Content-Type": "text/html"}, b"<html>Not Found</html>"

    def _mast_invoke(self, path, params):
        request = json.loads(params["request"])
        service, args = request["service"], request["params"]
        if service == "Mast.Caom.Filtered":
            filters = {f["paramName"]: f["values"] for f in args["filters"]}
            pid = int(filters["proposal_id"][0])
            columns = args["columns"].split(",")
            rows = [
                {c: o.get(c) for c in columns}
                for o in self.observations.get(pid, [])
                if o["dataproduct_type"] in filters.get("dataproduct_type", [o["dataproduct_type"]])
            ]
        elif service == "Mast.Caom.Products":
            rows = [
                {k: v for k, v in p.items() if not k.startswith("_")}
                for obsid in args["obsid"].split(",")
                for p in self.products.get(obsid, [])
            ]
        else:
            body = json.dumps({"status": "ERROR", "msg": f"unknown service {service}"}).encode()
            return 200, {"Content-Type": "application/json"}, body
        return (
            200,
            {"Content-Type": "application/json"},
            _portal(rows, int(request["pagesize"]), int(request["page"])),
        )

    def _mast_download(self, path, params):
        uri = params.get("uri", "")
        if uri not in self.colour:
            return 404, {}, b"not found"
        grey = np.random.default_rng(zlib.crc32(uri.encode())).integers(0, 255, (240, 320), dtype=np.uint8)
        if self.colour[uri]:
            return 200, {"Content-Type": "image/jpeg"}, jpeg(np.stack([grey, grey // 3, 255 - grey], axis=2))
        return 200, {"Content-Type": "image/jpeg"}, jpeg(np.stack([grey] * 3, axis=2))
