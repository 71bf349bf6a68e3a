"""The certificate as a QR code (SVG for the page) and as a PDF (reportlab, Chinese via STSong-Light).

Both carry the payload between ``CLSEAL:`` and ``:CLSEAL``; in the PDF it is in the document's
Subject metadata (never compressed) as well as printed on the page, so ``verify.extract_payload``
finds it in the file's bytes.
"""

from __future__ import annotations

import io

import segno
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from cityloop.seal.models import Certificate
from cityloop.seal.rules import mask_holder_id

CJK_FONT = "STSong-Light"


def marked(payload: str) -> str:
    return f"CLSEAL:{payload}:CLSEAL"


def qr(payload: str) -> segno.QRCode:
    # Base45 is QR alphanumeric; error level M keeps the code small enough to scan from paper
    return segno.make_qr(payload, error="m", mode="alphanumeric")


def qr_svg(payload: str) -> str:
    return qr(payload).svg_inline(scale=3, border=4, title="CityLoop e-certificate")


def _draw_qr(pdf: canvas.Canvas, payload: str, x: float, y: float, size: float) -> None:
    code = qr(payload)
    matrix = code.matrix
    cell = size / len(matrix)
    pdf.setFillColorRGB(0, 0, 0)
    for row_number, row in enumerate(matrix):
        for column, dark in enumerate(row):
            if dark:
                pdf.rect(x + column * cell, y + size - (row_number + 1) * cell, cell, cell, stroke=0, fill=1)


def _chunks(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def pdf_bytes(cert: Certificate) -> bytes:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=0)
    pdf.setTitle(f"{cert.title} {cert.serial}")
    pdf.setAuthor(cert.issuer_name)
    pdf.setSubject(marked(cert.payload))
    pdf.setKeywords("CityLoop e-certificate")
    width, height = A4
    pdf.setFont(CJK_FONT, 22)
    pdf.drawCentredString(width / 2, height - 35 * mm, cert.title)
    pdf.setFont(CJK_FONT, 11)
    pdf.drawCentredString(width / 2, height - 43 * mm, f"电子证照 E-certificate · {cert.serial}")
    lines = [
        ("发证机关 Issuer", cert.issuer_name),
        ("持证人 Holder", cert.holder_name),
        ("证件号码 Holder ID", mask_holder_id(cert.holder_id)),
        ("发证时间 Issued", timezone.localtime(cert.issued_at).strftime("%Y-%m-%d %H:%M")),
        *[(str(label), str(value)) for label, value in cert.fields.items()],
    ]
    y = height - 60 * mm
    for label, value in lines:
        pdf.setFont(CJK_FONT, 11)
        pdf.drawString(25 * mm, y, label)
        pdf.drawString(75 * mm, y, value[:60])
        y -= 8 * mm
    if cert.revoked_at:
        pdf.setFillColorRGB(0.75, 0, 0)
        pdf.drawString(
            25 * mm,
            y - 4 * mm,
            f"已撤销 REVOKED {timezone.localtime(cert.revoked_at):%Y-%m-%d}: {cert.revocation_reason[:50]}",
        )
        pdf.setFillColorRGB(0, 0, 0)
    _draw_qr(pdf, cert.payload, width - 80 * mm, 55 * mm, 55 * mm)
    pdf.setFont(CJK_FONT, 9)
    pdf.drawString(25 * mm, 100 * mm, "扫描二维码或在 /seal/verify/ 粘贴下方签名数据核验真伪。")
    pdf.drawString(25 * mm, 95 * mm, "Scan the QR code, or paste the signed data below at /seal/verify/.")
    pdf.setFont("Courier", 6)
    y = 45 * mm
    for chunk in _chunks(marked(cert.payload), 110):
        pdf.drawString(15 * mm, y, chunk)
        y -= 3 * mm
    pdf.showPage()
    pdf.save()
    return out.getvalue()
