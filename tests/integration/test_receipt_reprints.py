"""A receipt after a partial refund, reprints (补打), and the PDF a printer can print: through the
real service, PostgreSQL and the WeChat Pay simulator (the refund goes through the channel)."""

from __future__ import annotations

import io
import re
from typing import Any

import pypdf
import pypdfium2
import pytest
import segno
import zxingcpp
from PIL import ImageFilter

from clearing.api.keys import POOL, RECEIPTS
from clearing.api.receipt_pdf import QR_SIZE_MM
from clearing.domain.money import capital_amount
from clearing.service import orders, receipts
from tests.conftest import fresh_database
from tests.integration.service_harness import (
    Service,
    order_body,
    running_wechat_service,
    service_fixture,
)

AMOUNTS = (1000_00, 80_00, 500_00)  # 契税, 登记费, 维修资金; line 2 is refunded


svc = service_fixture("reprints", sim_retry_scale=0.01, workers=2, poll_first_s=0.3)


@pytest.fixture(scope="module")
async def staff(svc: Service) -> dict[str, str]:
    return await svc.every_role()


async def _paid(svc: Service, staff: dict[str, str]) -> dict[str, Any]:
    status, order = await svc.create_order(staff["supervisor"], order_body(AMOUNTS))
    assert status == 201, order
    qr = await svc.open_qr(staff["clerk"], order["order_no"])
    await svc.sim.pay(qr["out_trade_no"])
    return await svc.wait_state(staff["clerk"], order["order_no"], "CLEARED")


async def _refund_line_2(svc: Service, staff: dict[str, str], order_no: str) -> None:
    req = await svc.answered(
        "POST",
        f"/api/v1/orders/{order_no}/refunds",
        staff["supervisor"],
        json={"lines": [2], "reason": "登记费减免"},
        expect=201,
    )
    status, _ = await svc.request(
        "POST", f"/api/v1/refunds/{req['id']}/approve", staff["finance"], json={}
    )
    assert status == 200
    await svc.wait_refund(staff["clerk"], order_no, "SUCCEEDED")
    await svc.wait_state(staff["clerk"], order_no, "CLEARED")


async def _page(svc: Service, path: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with svc.session.get(svc.base_url + path, headers=headers, allow_redirects=False) as r:
        return r.status, await r.text()


def _verify_link(html: str) -> str:
    links = re.findall(r'href="([^"]*/(?:v|verify)/[^"]+)"', html)
    assert links, "the receipt shows no verification link"
    return str(links[0]).replace("&amp;", "&")


async def _paid_receipt(svc: Service, staff: dict[str, str]) -> tuple[dict[str, Any], str]:
    """A paid order, and the verification link its receipt page shows the clerk."""
    order = await _paid(svc, staff)
    status, html = await _page(svc, f"/orders/{order['order_no']}/receipt", staff["clerk"])
    assert status == 200, html
    return order, _verify_link(html)


async def _verdict(svc: Service, url: str) -> tuple[dict[str, Any], str]:
    code = url.rsplit("/", 1)[1]
    status, verdict = await svc.request("GET", f"/api/v1/receipts/verify?token={code}")
    assert status == 200, verdict
    async with svc.session.get(url) as r:
        assert r.status == 200
        page = await r.text()
    return dict(verdict), page


async def _receipt_pdf(svc: Service, order_no: str, token: str) -> bytes:
    """The order's receipt as the PDF the window prints, which must be there."""
    async with svc.session.get(
        f"{svc.base_url}/orders/{order_no}/receipt.pdf",
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 200
        return await r.read()


async def test_a_receipt_stops_verifying_once_one_of_its_lines_is_refunded(
    svc: Service, staff: dict[str, str]
) -> None:
    order, url = await _paid_receipt(svc, staff)
    verdict, page = await _verdict(svc, url)
    assert (verdict["valid"], verdict["code"]) == (True, "RECEIPT_VALID")
    assert "凭证真实有效" in page
    # the verification page lists the items, so the reader can compare them with the paper
    for line in order["lines"]:
        assert line["item_name"] in page and line["beneficiary_name"] in page
    await _refund_line_2(svc, staff, order["order_no"])
    verdict, page = await _verdict(svc, url)
    assert (verdict["valid"], verdict["code"]) == (False, "RECEIPT_PARTLY_REFUNDED")
    assert "已部分退款，凭证已失效" in page and "凭证真实有效" not in page
    # what stands now: line 2 refunded, the rest paid, the net
    assert [x["refunded"] for x in verdict["lines"]] == [False, True, False]
    assert verdict["paid_fen"] == 1500_00
    assert "已退" in page and "¥1,500.00" in page
    # the page that printed it now says the paper is void and offers no printing of it
    status, html = await _page(svc, f"/orders/{order['order_no']}/receipt", staff["clerk"])
    assert status == 200
    assert 'id="receipt-banner"' in html and "凭证已失效" in html
    assert 'id="print-receipt"' not in html and 'id="reprint"' in html
    status, _ = await _page(svc, f"/orders/{order['order_no']}/receipt.pdf", staff["clerk"])
    assert status == 409


async def test_a_reprint_shows_the_refund_is_marked_and_counted_and_verifies(
    svc: Service, staff: dict[str, str]
) -> None:
    order = await _paid(svc, staff)
    order_no = order["order_no"]
    status, _ = await _page(svc, f"/orders/{order_no}/receipt", staff["clerk"])
    assert status == 200
    await _refund_line_2(svc, staff, order_no)
    made = await svc.answered(
        "POST",
        f"/api/v1/orders/{order_no}/receipt/reprints",
        staff["clerk"],
        json={"reason": "部分退款后重新出具"},
        expect=201,
    )
    assert (made["receipt_no"], made["reprint_no"], made["paid_fen"]) == (
        f"{order_no}-2",
        1,
        1500_00,
    )
    assert made["refunded_fen"] == 80_00 and made["reason"] == "部分退款后重新出具"
    assert len(made["verify_url"]) <= 80
    status, html = await _page(svc, made["receipt_url"], staff["clerk"])
    assert status == 200
    assert "补打（第 1 次）" in html and 'id="reprint-badge"' in html
    assert made["receipt_no"] in html
    refunded_row = re.search(r'<tr class="refunded">.*?</tr>', html)
    assert refunded_row and "登记费" in refunded_row[0] and "已退" in refunded_row[0]
    assert "实缴合计" in html and capital_amount(1500_00) in html
    assert 'id="net-paid">¥1,500.00<' in html and 'id="refunded-total">¥80.00<' in html
    # the latest page is the reprint, printable; the original is history, for reading only
    status, latest = await _page(svc, f"/orders/{order_no}/receipt", staff["clerk"])
    assert made["receipt_no"] in latest and 'id="print-receipt"' in latest
    status, first = await _page(svc, f"/orders/{order_no}/receipt?n=1", staff["clerk"])
    assert status == 200 and "历史打印记录" in first and 'id="print-receipt"' not in first
    status, _ = await _page(svc, f"/orders/{order_no}/receipt.pdf?n=1", staff["clerk"])
    assert status == 409
    verdict, page = await _verdict(svc, made["verify_url"])
    assert (verdict["valid"], verdict["reprint_no"], verdict["reprints"]) == (True, 1, 1)
    assert "凭证真实有效" in page and "补打（第 1 次）" in page and "已退" in page
    # a second reprint counts on; the PDF carries the same marks
    status, again = await svc.request(
        "POST",
        f"/api/v1/orders/{order_no}/receipt/reprints",
        staff["supervisor"],
        json={"reason": "凭证遗失"},
    )
    assert (status, again["reprint_no"]) == (201, 2)
    pdf = await _receipt_pdf(svc, order_no, staff["clerk"])
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "补打（第 2 次）" in text and again["receipt_no"] in text
    assert "已退" in text and "实缴合计" in text and capital_amount(1500_00) in text
    # the list of prints, and each reprint in the audit log with its reason
    status, listed = await svc.request(
        "GET", f"/api/v1/orders/{order_no}/receipt/prints", staff["clerk"]
    )
    assert [p["reprint_no"] for p in listed["prints"]] == [0, 1, 2]
    rows = await svc.app[POOL].fetch(
        "SELECT actor, action, detail FROM audit_log WHERE object_id = $1"
        " AND action LIKE 'receipt.%' ORDER BY id",
        order_no,
    )
    assert [r["action"] for r in rows] == [
        "receipt.printed",
        "receipt.reprinted",
        "receipt.reprinted",
    ]
    assert rows[1]["detail"]["reason"] == "部分退款后重新出具"
    assert rows[1]["detail"]["refunded_lines"] == [2]
    # the order's history (缴费单查询) shows each reprint with its count
    history = await svc.answered("GET", f"/api/v1/orders/{order_no}/timeline", staff["clerk"])
    details = [e.get("detail") for e in history["events"]]
    assert "第 1 次补打" in details and "第 2 次补打" in details, history["events"]


async def test_reprint_is_for_window_staff_of_the_order_s_office(
    svc: Service, staff: dict[str, str]
) -> None:
    order = await _paid(svc, staff)
    path = f"/api/v1/orders/{order['order_no']}/receipt/reprints"
    body = {"reason": "凭证遗失"}
    # nothing printed yet: a reprint needs an original
    status, problem = await svc.request("POST", path, staff["clerk"], json=body)
    assert (status, problem["code"]) == (409, "RECEIPT_NOT_PRINTED")
    # an auditor opening the receipt does not print it
    status, html = await _page(svc, f"/orders/{order['order_no']}/receipt", staff["auditor"])
    assert status == 409 and "尚未打印凭证" in html
    await _page(svc, f"/orders/{order['order_no']}/receipt", staff["clerk"])
    for role in ("finance", "auditor", "admin"):
        status, problem = await svc.request("POST", path, staff[role], json=body)
        assert (status, problem["code"]) == (403, "RECEIPT_REPRINT_FORBIDDEN"), role
        assert "补打" in problem["detail_zh"]
    status, problem = await svc.request("POST", path, staff["clerk9"], json=body)
    assert (status, problem["code"]) == (404, "ORDER_NOT_FOUND")
    status, problem = await svc.request("POST", path, staff["clerk"], json={"reason": " "})
    assert (status, problem["code"]) == (422, "REPRINT_REASON_REQUIRED")
    status, unpaid = await svc.create_order(staff["supervisor"], order_body((80_00,)))
    status, problem = await svc.request(
        "POST", f"/api/v1/orders/{unpaid['order_no']}/receipt/reprints", staff["clerk"], json=body
    )
    assert (status, problem["code"]) == (409, "RECEIPT_NOT_PRINTABLE")
    # none of that printed anything
    status, listed = await svc.request(
        "GET", f"/api/v1/orders/{order['order_no']}/receipt/prints", staff["auditor"]
    )
    assert [p["reprint_no"] for p in listed["prints"]] == [0]
    # an auditor reads the receipt, without the 补打 button
    status, html = await _page(svc, f"/orders/{order['order_no']}/receipt", staff["auditor"])
    assert status == 200 and 'id="reprint"' not in html


async def test_the_receipt_page_s_reprint_button_posts_from_our_own_page_only(
    svc: Service, staff: dict[str, str]
) -> None:
    order = await _paid(svc, staff)
    page = f"/orders/{order['order_no']}/receipt"
    await _page(svc, page, staff["clerk"])
    url = f"{svc.base_url}{page}/reprints"
    form = {"reason": "凭证污损"}

    async def post(token: str, origin: str | None, site: str | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": f"tj_session={token}"}
        if origin:
            headers["Origin"] = origin
        if site:
            headers["Sec-Fetch-Site"] = site
        async with svc.session.post(url, data=form, headers=headers, allow_redirects=False) as r:
            return r.status, r.headers.get("Location", ""), await r.text()

    status, _, text = await post(staff["clerk"], "https://evil.example")
    assert status == 403 and "无权补打" in text
    status, _, text = await post(staff["clerk"], None)
    assert status == 403
    # a browser's fetch metadata outranks an Origin that looks like ours
    status, _, text = await post(staff["clerk"], svc.base_url, "cross-site")
    assert status == 403
    status, _, text = await post(staff["finance"], svc.base_url)
    assert status == 403 and "只有窗口收费员或值班主任可以补打缴费凭证" in text
    status, location, _ = await post(staff["clerk"], "null", "same-origin")
    assert (status, location) == (303, f"{page}?n=2")
    status, html = await _page(svc, location, staff["clerk"])
    assert status == 200 and "补打（第 1 次）" in html
    # a browser without fetch metadata is judged by its Origin
    status, location, _ = await post(staff["clerk"], svc.base_url)
    assert (status, location) == (303, f"{page}?n=3")


async def test_the_pdf_embeds_its_font_and_its_qr_code_is_short(
    svc: Service, staff: dict[str, str]
) -> None:
    order, url = await _paid_receipt(svc, staff)
    assert len(url) <= 80, url
    pdf_bytes = await _receipt_pdf(svc, order["order_no"], staff["clerk"])
    pdf = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    fonts = []
    for page in pdf.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            parts = [font]
            if "/DescendantFonts" in font:
                parts = [d.get_object() for d in font["/DescendantFonts"]]
            for part in parts:
                descriptor = part.get("/FontDescriptor")
                fonts.append(
                    (
                        str(font["/BaseFont"]),
                        descriptor is not None and "/FontFile2" in descriptor.get_object(),
                    )
                )
    assert fonts, "the PDF names no font"
    # every font is embedded (TrueType outlines, FontFile2), as a subset (ABCDEF+Name)
    assert all(embedded for _, embedded in fonts), fonts
    assert all(re.fullmatch(r"/[A-Z]{6}\+.+", name) for name, _ in fonts), fonts
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "不动产登记税费缴费凭证" in text and order["total_capital"] in text
    printed = re.search(r"https?://\S+/v/\S+", "".join(text.split("\n")))
    assert printed and printed[0] == url
    # the QR code of an 80-character URL: modules of at least 0.5 mm at the printed size
    modules = segno.make(url, error="m").symbol_size(scale=1, border=2)[0]
    assert QR_SIZE_MM / modules >= 0.5, modules
    # printed at 300 dpi it reads back as the URL; so it does seen at a third of that with a
    # little blur, as a phone camera sees paper (the ~450-character QR it replaced did not)
    paper = pypdfium2.PdfDocument(pdf_bytes)[0].render(scale=300 / 72).to_pil()
    assert [r.text for r in zxingcpp.read_barcodes(paper)] == [url]
    seen = paper.resize((paper.width // 3, paper.height // 3)).filter(ImageFilter.GaussianBlur(1))
    assert [r.text for r in zxingcpp.read_barcodes(seen)] == [url]


async def test_an_old_long_token_still_verifies_until_a_line_is_refunded(
    svc: Service, staff: dict[str, str]
) -> None:
    order = await _paid(svc, staff)
    async with svc.app[POOL].acquire() as conn:
        view = await orders.unscoped_view(conn, order["order_no"])
    assert view is not None
    token = receipts.issue(view, svc.app[RECEIPTS])  # what receipts printed before short codes
    verdict, page = await _verdict(svc, f"{svc.base_url}/verify/{token}")
    assert (verdict["valid"], verdict["code"]) == (True, "RECEIPT_VALID")
    assert "契税" in page
    await _refund_line_2(svc, staff, order["order_no"])
    verdict, page = await _verdict(svc, f"{svc.base_url}/verify/{token}")
    assert (verdict["valid"], verdict["code"]) == (False, "RECEIPT_PARTLY_REFUNDED")
    assert "已部分退款，凭证已失效" in page


async def test_a_forged_short_code_verifies_nothing_and_shows_nothing(
    svc: Service, staff: dict[str, str]
) -> None:
    order, url = await _paid_receipt(svc, staff)
    code = url.rsplit("/", 1)[1]
    forged = code[:-4] + ("aaaa" if not code.endswith("aaaa") else "bbbb")
    verdict, page = await _verdict(svc, f"{svc.base_url}/v/{forged}")
    assert (verdict["valid"], verdict["code"]) == (False, "RECEIPT_SIGNATURE_INVALID")
    assert verdict["lines"] is None and order["case_no"] not in page
    # another print number of the same order, with this print's MAC: also nothing
    other = code.replace("-1.", "-2.")
    verdict, _ = await _verdict(svc, f"{svc.base_url}/v/{other}")
    assert verdict["code"] == "RECEIPT_SIGNATURE_INVALID"


async def test_without_a_font_the_pdf_says_so_in_chinese_and_the_page_still_prints(
    pg_admin_dsn: str, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("nofont")
    # a database of its own: this service's workers must not take the module service's tasks
    dsn = await fresh_database(pg_admin_dsn, template_dsn)
    async with running_wechat_service(
        dsn, tmp, sim_retry_scale=0.01, workers=1, receipt_font_file=tmp / "no-such-font.ttf"
    ) as other:
        staff = {
            "clerk": await other.add_user("clerk", "HALL1"),
            "supervisor": await other.supervisor(),
        }
        order = await _paid(other, staff)
        status, html = await _page(other, f"/orders/{order['order_no']}/receipt", staff["clerk"])
        assert status == 200 and 'id="print-receipt"' in html
        status, text = await _page(
            other, f"/orders/{order['order_no']}/receipt.pdf", staff["clerk"]
        )
        assert status == 503 and "服务器缺少凭证字体" in text
