"""An image's format and size, read from its first bytes, before anything decodes it (the web
server's uploads, a user's sticker).

A decoder allocates what the header claims, and a flat picture compresses about 1000:1: a
2.6 MB PNG can hold 30000×30000 pixels, 2.7 GB once decoded to BGR, and OpenCV's own limit (2^30
pixels, 3.2 GB) lets it through. So the web server and the sticker loader read the claim here, in microseconds, and
refuses it before anything decodes. Each format keeps
its size in a fixed place or, for JPEG, in the first start-of-frame segment:

- PNG: the IHDR chunk, always first (bytes 16-24, big-endian);
- JPEG: the SOFn segment's height and width, found by hopping from segment to segment
  (APPn segments, EXIF among them, may come first and take up to 64 KB each);
- WebP: the VP8X canvas size, or the VP8L/VP8 bitstream header;
- BMP: the DIB header (OS/2 core headers use 16-bit sizes; height is negative when top-down);
- GIF and TIFF are recognised so that they are refused by name (OpenCV 4.11 as built in
  opencv-python has no GIF decoder; TIFF keeps its size in a directory anywhere in the file).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

DECODABLE = ("png", "jpeg", "webp", "bmp")  # what the server accepts
KNOWN_OTHERS = ("gif", "tiff")  # images, but not ones it decodes
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic); not C4 (DHT), C8 (JPG), CC (DAC)
SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


@dataclass(frozen=True)
class ImageHeader:
    format: str  # one of DECODABLE or KNOWN_OTHERS
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


class HeaderError(ValueError):
    """The bytes are not an image, or not a well-formed one of the format they claim."""


def sniff(data: bytes) -> str | None:
    """The image format by magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return None


def read_header(data: bytes) -> ImageHeader:
    """Format and size of the image in ``data``; :class:`HeaderError` when it is none we know
    or its header is cut short or broken. TIFF comes back with size 0×0 (not read)."""
    fmt = sniff(data)
    if fmt is None:
        raise HeaderError("not an image (accepted: PNG, JPEG, WebP, BMP)")
    try:
        width, height = _SIZE_READERS[fmt](data)
    except (struct.error, IndexError):
        raise HeaderError(f"the {fmt.upper()} header is cut short") from None
    if fmt != "tiff" and (width <= 0 or height <= 0):
        raise HeaderError(f"the {fmt.upper()} header gives a size of {width}x{height}")
    return ImageHeader(fmt, width, height)


def _png(data: bytes) -> tuple[int, int]:
    if data[12:16] != b"IHDR":
        raise HeaderError("the PNG does not start with its IHDR chunk")
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes) -> tuple[int, int]:
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise HeaderError(f"the JPEG is broken: no segment marker at byte {i}")
        while data[i] == 0xFF:  # fill bytes may pad a marker
            i += 1
        marker = data[i]
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # RSTn, SOI, TEM: no length
            i += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header came first
            raise HeaderError("the JPEG has no frame header before its image data")
        (length,) = struct.unpack(">H", data[i + 1:i + 3])
        if marker in SOF_MARKERS:
            height, width = struct.unpack(">HH", data[i + 4:i + 8])
            return width, height
        i += 1 + length
    raise struct.error("end of data")


def _webp(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas width - 1 and height - 1
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L":  # lossless: signature 0x2f, then 14 bits each of width - 1, height - 1
        if data[20] != 0x2F:
            raise HeaderError("the lossless WebP has a bad signature")
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":  # lossy: key frame start code, then 14-bit width and height
        if data[23:26] != b"\x9d\x01\x2a":
            raise HeaderError("the lossy WebP has a bad start code")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    raise HeaderError(f"the WebP has an unknown first chunk {chunk!r}")


def _bmp(data: bytes) -> tuple[int, int]:
    (dib,) = struct.unpack("<I", data[14:18])
    if dib == 12:  # OS/2 BITMAPCOREHEADER
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return width, abs(height)


def _gif(data: bytes) -> tuple[int, int]:
    return struct.unpack("<HH", data[6:10])


_SIZE_READERS = {"png": _png, "jpeg": _jpeg, "webp": _webp, "bmp": _bmp, "gif": _gif, "tiff": lambda data: (0, 0)}
