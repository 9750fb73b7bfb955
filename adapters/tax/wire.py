"""The bureau's wire vocabulary (PROTOCOL.md): messages, result codes, number formats, times.

Shared by the client and the simulator so that the two cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Final

from adapters import wiretime

VERSION: Final = "1.0"
APP: Final = "SFTJ"  # 税费统缴

# request MsgNo → answer MsgNo, and where each is posted
LOOKUP: Final = ("1101", "2101", "/tdx/v1/declaration/query")
CONFIRM: Final = ("1102", "2102", "/tdx/v1/payment/confirm")
# as in TIPS, 9111 asks for the voucher detail list and 3111 is that list
RECONCILE: Final = ("9111", "3111", "/tdx/v1/reconciliation/vouchers")
API_PREFIX: Final = "/tdx/v1/"

OK: Final = "90000"
# the bureau's result codes (TIPS-style five digits) and our stable words for them
REFUSALS: Final[dict[str, tuple[str, str]]] = {
    "24101": ("NOT_FOUND", "no such declaration or voucher"),
    "24102": ("ALREADY_PAID", "the tax is already paid"),
    "24103": ("AMOUNT_MISMATCH", "the amount differs from the amount due"),
    "24104": ("CASE_MISMATCH", "the declaration is another taxpayer's or property unit's"),
    "24105": ("CONFIRM_REFUSED", "the bureau refused to confirm the payment"),
    "91005": ("REQUEST_REFUSED", "the bureau could not verify our request"),
    "91006": ("REQUEST_REFUSED", "the bureau took our request for a replay"),
    "92004": ("REQUEST_REFUSED", "the bureau could not read our request"),
}
RETRY_LATER: Final = frozenset({"94998", "94999"})  # maintenance, host error

# 税种代码 (national tax-type codes) of the taxes on a resale, by our fee item code
TAX_TYPES: Final[dict[str, tuple[str, str]]] = {
    "DEED_TAX": ("10119", "契税"),
    "VAT": ("10101", "增值税"),
    "IIT": ("10106", "个人所得税"),
    "STAMP_DUTY": ("10111", "印花税"),
}
ITEM_BY_TAX_TYPE: Final = {code: item for item, (code, _) in TAX_TYPES.items()}

# 申报号: "1" (property-transaction declaration) + declaration date YYYYMMDD + 9-digit sequence
DECLARATION_NO: Final = re.compile(r"1[0-9]{8}[0-9]{9}")
# 电子税票号: TaxOrgCode (11) + year (2) + 7-digit sequence, so a number names its tax office
TAX_VOU_NO: Final = re.compile(r"[0-9]{20}")
# 完税证明号: "3" + the office's division code (6) + year (2) + 9-digit sequence
CERT_NO: Final = re.compile(r"3[0-9]{17}")
# 纳税人识别号: an 18-character ID-card number or unified social credit code
TAXPAYER_ID: Final = re.compile(r"[0-9A-Z]{18}")
# 不动产单元号: division (6) + cadastral zone (6) + parcel kind (2) + parcel (5) + "F"/"W"/... (1)
# + building unit (8)
PROPERTY_UNIT: Final = re.compile(r"[0-9]{12}[A-Z]{2}[0-9]{5}[A-Z][0-9]{8}")
TRA_NO: Final = re.compile(r"[0-9]{20}")
PAYMENT_REF: Final = re.compile(r"[0-9A-Za-z_-]{1,64}")
ORDER_NO: Final = re.compile(r"[0-9A-Za-z_-]{1,32}")

# the shared Beijing formats (wiretime) under the names the client and the simulator import
BEIJING = wiretime.BEIJING
WireFormatError = wiretime.WireFormatError
wire_date, wire_time = wiretime.format_date, wiretime.format_time
parse_date, parse_time = wiretime.parse_date, wiretime.parse_time


def today(now: datetime) -> date:
    """The bureau's working date: Beijing's."""
    return now.astimezone(BEIJING).date()
