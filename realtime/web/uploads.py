"""Reading ``POST /api/apply``'s multipart form: the image under a size cap, the other fields
as short texts; then checking and decoding the image.

Three gates keep a client from making the server hold more than it allows:

1. the declared body size (Content-Length) is checked before a byte of the body is read, also
   in answer to ``Expect: 100-continue`` (curl sends it for uploads over 1 MB), so an oversized
   upload is refused before the client sends it (:func:`too_large`);
2. a body without a declared size (chunked) is counted while it streams, and refused as soon
   as it passes the cap: at most one chunk (8 KB) over the cap is ever held (:func:`read_form`);
3. the image's pixel count is read from its header and checked before decoding
   (:mod:`realtime.capture.image_header`): a 2.6 MB PNG of 30000×30000 flat pixels is refused in
   microseconds instead of being decoded into 2.7 GB.

Nothing a client names reaches the file system: the form's file name is never read, the
image stays in memory.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from aiohttp import BodyPartReader, web

from realtime.web.config import FORM_OVERHEAD
from realtime.web.errors import RequestError
from realtime.capture.image_header import DECODABLE, HeaderError, ImageHeader, read_header

FIELDS = ("image", "filter", "latent", "strength", "background")
FIELD_BYTES = 1024  # a text field's cap: a chain spec or a colour is a few dozen characters
CHUNK = 8192


@dataclass(frozen=True)
class Upload:
    image: bytes
    fields: dict[str, str]  # the text fields by name (all but the image)


def too_large(content_length: int | None, max_image: int) -> RequestError | None:
    """The 413 for a body declared larger than an image of ``max_image`` bytes and the form
    around it can be, else None."""
    if content_length is not None and content_length > max_image + FORM_OVERHEAD:
        return RequestError(f"the upload is {content_length / 1e6:.1f} MB; the limit is {max_image / 1e6:g} MB", status=413)
    return None


async def read_form(request: web.Request, max_image: int) -> Upload:
    """The form's fields, each read under its cap; 413 past a cap, 400 for a malformed form
    (missing image, a field twice, an unknown field), 415 when it is not multipart."""
    if request.content_type != "multipart/form-data":
        raise RequestError(f"send a multipart/form-data form (got {request.content_type or 'no content type'}); "
                           f"fields: {', '.join(FIELDS)}", status=415)
    error = too_large(request.content_length, max_image)
    if error:
        raise error
    image: bytes | None = None
    fields: dict[str, str] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise RequestError("nested multipart parts are not accepted")
            name = part.name or ""
            if name not in FIELDS:
                raise RequestError(f"unknown form field {name[:40]!r} (fields: {', '.join(FIELDS)})")
            if name == "image" and image is not None or name in fields:
                raise RequestError(f"the form field {name!r} is given twice")
            data = await read_capped(part, max_image if name == "image" else FIELD_BYTES, name)
            if name == "image":
                image = data
            else:
                fields[name] = data.decode("utf-8", "replace").strip()
    except ValueError as exc:  # aiohttp's multipart parser: a bad boundary, header or length
        raise RequestError(f"malformed multipart form: {str(exc)[:120]}") from None
    except web.HTTPRequestEntityTooLarge:  # aiohttp's own cap (client_max_size), same limit
        raise RequestError(f"the upload is over the {max_image / 1e6:g} MB limit", status=413) from None
    if not image:
        raise RequestError("no image: send the picture as the form field 'image'")
    return Upload(image, fields)


async def read_capped(part: BodyPartReader, limit: int, name: str) -> bytes:
    """One part's bytes, refused with 413 as soon as they pass ``limit``."""
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            what = f"the image is over the {limit / 1e6:g} MB limit" if name == "image" else f"the field {name!r} is over {limit} bytes"
            raise RequestError(what, status=413)
    return bytes(data)


def check_image(data: bytes, max_pixels: int) -> ImageHeader:
    """The upload's header, refused unless it is a type the server decodes and no larger than
    ``max_pixels`` (400 not an image, 415 an image type not taken, 413 too many pixels)."""
    try:
        header = read_header(data)
    except HeaderError as exc:
        raise RequestError(str(exc)) from None
    if header.format not in DECODABLE:
        raise RequestError(f"{header.format.upper()} images are not accepted; use PNG, JPEG, WebP or BMP", status=415)
    if header.pixels > max_pixels:
        raise RequestError(f"the image is {header.width}x{header.height} ({header.pixels / 1e6:.0f} megapixels); "
                           f"the limit is {max_pixels / 1e6:g} megapixels", status=413)
    return header


def decode_image(data: bytes, header: ImageHeader) -> np.ndarray:
    """The checked upload as BGR uint8 (JPEG EXIF orientation applied, alpha dropped)."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise RequestError(f"the {header.format.upper()} file is damaged: it could not be decoded")
    if sorted(bgr.shape[:2]) != sorted((header.height, header.width)):  # EXIF rotation swaps the sides
        raise RequestError(f"the {header.format.upper()} header says {header.width}x{header.height} but the picture "
                           f"is {bgr.shape[1]}x{bgr.shape[0]}")
    return bgr
