"""Click-to-chat: the wa.me link and its QR code, in the API and Settings → Numbers."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from defusedxml import ElementTree
from django.test import Client
from PIL import Image

from inbox.models import PhoneNumber
from inbox.services import clicktochat, numbers
from inbox.tests.factories import PhoneNumberFactory
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def number_b(company_b: Company) -> PhoneNumber:
    return numbers.phone_number_connect(
        company=company_b, phone_number_id="770000000000909", display_number="+44 20 7946 0000", access_token="t"
    )


@pytest.mark.parametrize(
    ("display", "text", "expected"),
    [
        ("+49 30 1234567", "", "https://wa.me/49301234567"),
        ("+49 (30) 123-4567", "Hi", "https://wa.me/49301234567?text=Hi"),
        (
            "+4930123",
            "Pizza Margherita & 2 Cola? 50% off/#1 für Jörg",
            "https://wa.me/4930123?text=Pizza%20Margherita%20%26%202%20Cola%3F%2050%25%20off%2F%231%20f%C3%BCr%20J%C3%B6rg",
        ),
        ("+4930123", "  line one\nline two  ", "https://wa.me/4930123?text=line%20one%0Aline%20two"),
    ],
    ids=["plain", "punctuation-in-number", "special-characters", "newline"],
)
def test_link_has_digits_only_and_the_text_url_encoded(display: str, text: str, expected: str) -> None:
    # given
    number = PhoneNumber(display_number=display)
    # when
    url = clicktochat.clicktochat_url(phone_number=number, text=text)
    # then
    assert url == expected
    if text.strip():
        assert parse_qs(urlsplit(url).query)["text"] == [text.strip()]


def test_too_long_a_text_is_refused() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        clicktochat.clicktochat_url(phone_number=PhoneNumber(display_number="+4930"), text="x" * 501)


def test_api_answers_the_link_and_the_image_urls(
    tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber
) -> None:
    # when
    response = api_a.get(
        f"/api/v1/phone-numbers/{connected_number_a.public_id}/click-to-chat/", {"text": "Table 4 & more"}
    )
    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "qr_svg_url", "qr_png_url"}
    assert body["url"] == "https://wa.me/49301234567?text=Table%204%20%26%20more"
    svg = urlsplit(body["qr_svg_url"])
    assert svg.path == f"/api/v1/phone-numbers/{connected_number_a.public_id}/click-to-chat/qr-svg/"
    assert parse_qs(svg.query)["text"] == ["Table 4 & more"]
    assert urlsplit(body["qr_png_url"]).path.endswith("/click-to-chat/qr-png/")


def test_the_path_without_a_slash_redirects_to_the_contract_path(
    tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber
) -> None:
    # when
    response = api_a.get(f"/api/v1/phone-numbers/{connected_number_a.public_id}/click-to-chat?text=Hi")
    # then
    assert response.status_code == 301
    assert response["Location"].endswith(f"/{connected_number_a.public_id}/click-to-chat/?text=Hi")


def test_api_svg_is_a_valid_svg_document_of_the_link(
    tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber
) -> None:
    # when
    response = api_a.get(f"/api/v1/phone-numbers/{connected_number_a.public_id}/click-to-chat/qr-svg/", {"text": "Hi"})
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{SVG_NS}svg"
    assert root.find(f"{SVG_NS}path") is not None
    expected = io.BytesIO()
    segno.make_qr("https://wa.me/49301234567?text=Hi", error="m").save(
        expected, kind="svg", scale=8, border=4, xmldecl=True, svgns=True, title="WhatsApp"
    )
    assert response.content == expected.getvalue()


def test_api_png_is_a_valid_png_image(tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber) -> None:
    # when
    response = api_a.get(
        f"/api/v1/phone-numbers/{connected_number_a.public_id}/click-to-chat/qr-png/", HTTP_ACCEPT="image/png"
    )
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.verify()
    assert image.format == "PNG"
    version = segno.make_qr("https://wa.me/49301234567", error="m").version
    side = (17 + 4 * version + 2 * 4) * 10  # modules plus the quiet zone, 10 px each
    assert image.size == (side, side)


@pytest.mark.parametrize("suffix", ["", "qr-svg/", "qr-png/"])
def test_another_companys_number_is_404(tenant_a: Company, api_a: Client, number_b: PhoneNumber, suffix: str) -> None:
    # when
    response = api_a.get(f"/api/v1/phone-numbers/{number_b.public_id}/click-to-chat/{suffix}")
    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_number_not_connected_is_404(tenant_a: Company, api_a: Client) -> None:
    # given a number row without a route (disconnected)
    number = PhoneNumberFactory()
    # when
    response = api_a.get(f"/api/v1/phone-numbers/{number.public_id}/click-to-chat/")
    # then
    assert response.status_code == 404


@pytest.mark.parametrize("suffix", ["", "qr-svg/", "qr-png/"])
def test_a_too_long_text_is_400(tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber, suffix: str) -> None:
    # when
    response = api_a.get(
        f"/api/v1/phone-numbers/{connected_number_a.public_id}/click-to-chat/{suffix}", {"text": "x" * 501}
    )
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "text" in response.json()["error"]["details"]


# --- Settings → Numbers -------------------------------------------------------------------------


def test_settings_page_shows_link_code_and_downloads(alice_client: Client, connected_number_a: PhoneNumber) -> None:
    # given
    base = f"/settings/numbers/{connected_number_a.public_id}/click-to-chat/"
    # when
    numbers_page = alice_client.get("/settings/numbers/").content.decode()
    page = alice_client.get(base, {"text": '<script>alert("x")</script>'})
    svg = alice_client.get(f"{base}qr.svg", {"text": "Hi", "download": "1"})
    png = alice_client.get(f"{base}qr.png")
    # then
    assert base in numbers_page
    assert page.status_code == 200
    html = page.content.decode()
    assert "https://wa.me/49301234567?text=%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E" in html
    assert '<script>alert("x")</script>' not in html
    assert f"{base}qr.svg?text=" in html
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg["Content-Disposition"] == 'attachment; filename="whatsapp-qr.svg"'
    assert ElementTree.fromstring(svg.content).tag == f"{SVG_NS}svg"
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_settings_page_refuses_a_too_long_text_and_other_companies(
    alice_client: Client, bob_client: Client, charlie_client: Client, connected_number_a: PhoneNumber
) -> None:
    # given
    base = f"/settings/numbers/{connected_number_a.public_id}/click-to-chat/"
    # when
    too_long = alice_client.get(base, {"text": "x" * 501})
    agent = bob_client.get(base)
    other = charlie_client.get(base)
    other_png = charlie_client.get(f"{base}qr.png")
    # then
    assert too_long.status_code == 400
    assert "at most 500" in too_long.content.decode()
    assert agent.status_code == 403
    assert other.status_code == 404
    assert other_png.status_code == 404
