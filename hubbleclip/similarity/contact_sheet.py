"""Contact sheet: labelled rows of thumbnails (query, neighbours, cluster representatives)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hubbleclip.io import atomic_write_bytes


def contact_sheet(
    rows: list[tuple[str, list[tuple[Image.Image, str]]]],
    out: str | Path,
    thumb: int = 128,
    per_row: int = 10,
) -> Path:
    """Write a PNG with one block per ``(title, [(image, caption), ...])``, ``per_row`` thumbnails wide."""
    font = ImageFont.load_default(size=11)
    title_h, cap_h, pad = 18, 28, 4
    lines = []  # (title or None, cells)
    for title, cells in rows:
        chunks = [cells[i : i + per_row] for i in range(0, len(cells), per_row)] or [[]]
        lines += [(title if j == 0 else None, chunk) for j, chunk in enumerate(chunks)]
    width = per_row * (thumb + pad) + pad
    height = sum((title_h if t else 0) + thumb + cap_h + pad for t, _ in lines) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = pad
    for title, cells in lines:
        if title:
            draw.text((pad, y), title, fill="black", font=font)
            y += title_h
        for c, (image, caption) in enumerate(cells):
            x = pad + c * (thumb + pad)
            tile = image.convert("RGB")
            tile.thumbnail((thumb, thumb))
            sheet.paste(tile, (x + (thumb - tile.width) // 2, y + (thumb - tile.height) // 2))
            for n, text in enumerate(caption.splitlines()[:2]):
                draw.text((x, y + thumb + 2 + 12 * n), _fit(draw, text, font, thumb), fill="black", font=font)
        y += thumb + cap_h + pad
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return atomic_write_bytes(out, buf.getvalue())


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text


def similar_sheet(index, result, out: str | Path) -> Path:
    """The contact sheet of one ``find_similar`` result: query and selection, nearest images, and
    the quick-select cluster representatives."""
    items = index.items
    head = [(result.query_image, "query (file)")] if result.query_row is None else []
    head += [
        (index.image(r), ("query\n" if r == result.query_row else "selected\n") + items[r]["id"])
        for r in result.selected
    ]
    rows = [
        ("query and selection", head),
        (
            "nearest images",
            [(index.image(i), f"{items[i]['id']}\n{s:.3f} {items[i]['type']}") for i, s in result.neighbours],
        ),
    ]
    if result.clusters:
        rows.append(
            (
                "quick select: cluster representatives (size)",
                [
                    (index.image(c.representative), f"{items[c.representative]['id']}\n{c.size} images")
                    for c in result.clusters
                ],
            )
        )
    return contact_sheet(rows, out)
