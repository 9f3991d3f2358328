"""An organisation's logo from the sign-on form: checked, and rebuilt before it is kept.

Nothing uploaded is kept as it came. A PNG or JPEG is decoded by Pillow and written
again as a fresh PNG (no metadata, no trailing bytes, no second file hidden after
the image), after its pixel count is bounded so a small file cannot expand into
gigabytes. An SVG is an XML program as much as a picture (scripts, event handlers,
links, external references, entity expansion), so it is parsed without entities or
DTDs (defusedxml) and rebuilt from an allow-list of drawing elements and plain
attributes; anything outside the list refuses the file rather than being dropped
silently, because a logo with parts missing is worse than a clear "upload a PNG".
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from xml.etree import ElementTree

MAX_LOGO_BYTES = 512 * 1024
MAX_PIXELS = 4096 * 4096
SVG_NS = "http://www.w3.org/2000/svg"
_ELEMENTS = {
    "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
    "defs", "linearGradient", "radialGradient", "stop", "title", "desc", "text", "tspan",
}  # fmt: skip
_ATTRIBUTES = {
    "viewBox", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx",
    "ry", "d", "points", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width",
    "stroke-opacity", "stroke-linecap", "stroke-linejoin", "opacity", "transform", "offset",
    "stop-color", "stop-opacity", "gradientUnits", "gradientTransform", "id", "font-family",
    "font-size", "font-weight", "text-anchor", "preserveAspectRatio", "version", "fx", "fy",
}  # fmt: skip
# A value that names anything outside the file: url(#id) is the one reference allowed.
_OUTSIDE = re.compile(r"url\s*\(\s*(?!#)|javascript:|data:|&|<", re.IGNORECASE)


class LogoError(ValueError):
    """The upload cannot be a logo; str() is the sentence the form shows."""


@dataclass(frozen=True, slots=True)
class Logo:
    data: bytes
    content_type: str  # image/png or image/svg+xml


def clean_logo(data: bytes) -> Logo:
    """The logo as it is safe to keep and show; LogoError saying why not."""
    if len(data) > MAX_LOGO_BYTES:
        raise LogoError(
            f"the logo is larger than {MAX_LOGO_BYTES // 1024} KB; upload a smaller one"
        )
    head = data[:512].lstrip()
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        return Logo(_raster(data), "image/png")
    if head.startswith(b"<") and b"<svg" in data[:4096]:
        return Logo(_svg(data), "image/svg+xml")
    raise LogoError("the logo must be a PNG, JPEG or SVG image")


def _raster(data: bytes) -> bytes:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ("PNG", "JPEG"):
                    raise LogoError("the logo must be a PNG, JPEG or SVG image")
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise LogoError("the logo has too many pixels; 4096 by 4096 at most")
                image.load()
                mode = "RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB"
                out = io.BytesIO()
                image.convert(mode).save(out, format="PNG", optimize=True)
                return out.getvalue()
    except LogoError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Warning) as err:
        raise LogoError("the logo is not a readable PNG or JPEG image") from err


def _svg(data: bytes) -> bytes:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ElementTree.ParseError, ValueError) as err:
        raise LogoError("the SVG logo is not plain SVG (no DTDs or entities)") from err
    if _local(root.tag) != "svg":
        raise LogoError("the logo must be a PNG, JPEG or SVG image")
    clean = _rebuild(root)
    ElementTree.register_namespace("", SVG_NS)
    return ElementTree.tostring(clean, encoding="utf-8", xml_declaration=True)


def _rebuild(element: ElementTree.Element) -> ElementTree.Element:
    tag = _local(element.tag)
    if _namespace(element.tag) not in ("", SVG_NS) or tag not in _ELEMENTS:
        raise LogoError(f"the SVG logo contains <{tag}>, which a logo may not; upload a PNG")
    copy = ElementTree.Element(f"{{{SVG_NS}}}{tag}")
    for name, value in element.attrib.items():
        local = _local(name)
        if _namespace(name) or local not in _ATTRIBUTES or _OUTSIDE.search(value):
            raise LogoError(f'the SVG logo has the attribute "{local}", which a logo may not')
        copy.set(local, value)
    copy.text = element.text
    for child in element:
        rebuilt = _rebuild(child)
        rebuilt.tail = child.tail
        copy.append(rebuilt)
    return copy


def _local(name: str) -> str:
    return name.rpartition("}")[2]


def _namespace(name: str) -> str:
    return name[1:].partition("}")[0] if name.startswith("{") else ""
