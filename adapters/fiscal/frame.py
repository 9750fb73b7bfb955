"""The CNNONTAX-style frame and its MAC, shared by the client and the simulator (PROTOCOL.md).

A frame is ``LLLLLLLL`` (total length in bytes, counting itself, decimal, left-justified and
space-padded to 8) + ``CNNONTAX`` + ``1.0`` + a 4-digit message number + the GBK XML message +
a 64-hex MAC of the XML. The 南通 original computes SHA-256(token + XML); we use HMAC-SHA256 under
the same shared token and in the same 64 hex characters, because a bare keyed hash lets anyone
who saw one frame compute the MAC of that XML with bytes appended (length extension).

XML root ``CFX`` holds ``HEAD`` (VER, SRC, DES, APP, MsgNo, MsgID, MsgRef, WorkDate, Reserve) and
``MSG``. ``MsgID`` is the sender's Beijing time ``yyyyMMddHHmmss`` + 6 random digits: receivers
refuse stale or repeated ids, and an answer's ``MsgRef`` names the request it answers, so an old
signed answer cannot be replayed as the answer to a new question.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from adapters import wiretime

APP: Final = "CNNONTAX"
VERSION: Final = "1.0"
ENCODING: Final = "gbk"
BEIJING: Final = wiretime.BEIJING
MAX_SKEW_S: Final = 300
MAX_FRAME_BYTES: Final = 4 * 1024 * 1024
CONTENT_TYPE: Final = "application/octet-stream"

_LENGTH_WIDTH = 8
_PREFIX_LEN = _LENGTH_WIDTH + len(APP) + len(VERSION) + 4  # 23, as in the original
_MAC_LEN = 64
_DECLARATION = '<?xml version="1.0" encoding="GBK"?>'
_MSG_NO = re.compile(r"[0-9]{4}")
_MAC = re.compile(r"[0-9a-f]{64}")
_MSG_ID = re.compile(r"([0-9]{14})[0-9]{6}")
_HEAD_FIELDS = ("VER", "SRC", "DES", "APP", "MsgNo", "MsgID", "MsgRef", "WorkDate", "Reserve")


class FrameError(ValueError):
    """Bytes that are not a well-formed frame or message; the message says what is wrong."""


@dataclass(frozen=True)
class Frame:
    msg_no: str
    xml: bytes  # the exact bytes the MAC covers
    mac: str


@dataclass(frozen=True)
class Head:
    src: str
    des: str
    msg_no: str
    msg_id: str
    msg_ref: str
    work_date: str  # yyyyMMdd
    ver: str = VERSION
    app: str = APP
    reserve: str = ""


def mac_of(token: bytes, xml: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of the XML bytes under the shared token."""
    return hmac.new(token, xml, hashlib.sha256).hexdigest()


def mac_ok(token: bytes, frame: Frame) -> bool:
    """Constant-time check, so that timing reveals nothing about the right MAC."""
    return hmac.compare_digest(mac_of(token, frame.xml).encode(), frame.mac.encode())


def encode_frame(msg_no: str, xml: bytes, token: bytes) -> bytes:
    """The frame of one message, MAC'd under ``token``."""
    if not _MSG_NO.fullmatch(msg_no):
        raise ValueError("message number must be 4 digits")
    total = _PREFIX_LEN + len(xml) + _MAC_LEN
    head = f"{total:<{_LENGTH_WIDTH}}{APP}{VERSION}{msg_no}".encode("ascii")
    return head + xml + mac_of(token, xml).encode("ascii")


def decode_frame(raw: bytes) -> Frame:
    """Split a frame; ``FrameError`` unless every fixed part is exactly as documented."""
    if len(raw) < _PREFIX_LEN + _MAC_LEN:
        raise FrameError("frame too short")
    if len(raw) > MAX_FRAME_BYTES:
        raise FrameError("frame too long")
    try:
        prefix = raw[:_PREFIX_LEN].decode("ascii")
        mac = raw[-_MAC_LEN:].decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("frame prefix or MAC is not ASCII") from None
    length = prefix[:_LENGTH_WIDTH].rstrip(" ")
    if not length.isdigit() or int(length) != len(raw):
        raise FrameError("length field does not match the frame")
    rest = prefix[_LENGTH_WIDTH:]
    if rest[: len(APP)] != APP or rest[len(APP) : len(APP) + len(VERSION)] != VERSION:
        raise FrameError("not a CNNONTAX 1.0 frame")
    msg_no = rest[-4:]
    if not _MSG_NO.fullmatch(msg_no) or not _MAC.fullmatch(mac):
        raise FrameError("message number or MAC malformed")
    return Frame(msg_no=msg_no, xml=raw[_PREFIX_LEN:-_MAC_LEN], mac=mac)


def new_msg_id(now: datetime) -> str:
    """``yyyyMMddHHmmss`` (Beijing) + 6 random digits: 20 characters, as TIPS ``MsgID``."""
    return now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"


def msg_id_skew_s(msg_id: str, now: datetime) -> float | None:
    """Seconds between the time inside a ``MsgID`` and ``now``; None when there is none."""
    match = _MSG_ID.fullmatch(msg_id)
    if match is None:
        return None
    try:
        sent = datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None
    return abs((sent - now).total_seconds())


def build_message(head: Head, msg: ET.Element) -> bytes:
    """``CFX`` with ``HEAD`` and ``msg`` (whose tag must be ``MSG``), as GBK bytes.

    ``UnicodeEncodeError`` for text GBK cannot carry (rare characters outside GB 2312/GBK)."""
    if msg.tag != "MSG":
        raise ValueError("the message element must be MSG")
    root = ET.Element("CFX")
    head_el = ET.SubElement(root, "HEAD")
    values = (head.ver, head.src, head.des, head.app, head.msg_no, head.msg_id, head.msg_ref)
    for name, value in zip(_HEAD_FIELDS, (*values, head.work_date, head.reserve), strict=True):
        ET.SubElement(head_el, name).text = value
    root.append(msg)
    return (_DECLARATION + ET.tostring(root, encoding="unicode")).encode(ENCODING)


def parse_message(xml: bytes) -> tuple[Head, ET.Element]:
    """Read ``CFX``; ``FrameError`` for anything but a GBK document of that shape."""
    try:
        text = xml.decode(ENCODING)
    except UnicodeDecodeError:
        raise FrameError("message is not GBK text") from None
    if text.startswith("<?xml"):
        declaration, _, text = text.partition("?>")
        if "gbk" not in declaration.lower():
            raise FrameError("message declares an encoding other than GBK")
    # no DTDs at all: nothing legitimate needs one, and entities are how XML bombs work
    if "<!" in text:
        raise FrameError("DOCTYPE, entities and CDATA are not accepted")
    try:
        root = ET.fromstring(text)  # noqa: S314  (no DTD can reach the parser, see above)
    except ET.ParseError as exc:
        raise FrameError(f"message is not well-formed XML: {exc}") from None
    head_el, msg = root.find("HEAD"), root.find("MSG")
    if root.tag != "CFX" or head_el is None or msg is None:
        raise FrameError("message must be CFX with HEAD and MSG")
    fields = {name: (head_el.findtext(name) or "").strip() for name in _HEAD_FIELDS}
    head = Head(
        src=fields["SRC"],
        des=fields["DES"],
        msg_no=fields["MsgNo"],
        msg_id=fields["MsgID"],
        msg_ref=fields["MsgRef"],
        work_date=fields["WorkDate"],
        ver=fields["VER"],
        app=fields["APP"],
        reserve=fields["Reserve"],
    )
    return head, msg
