"""A person in headless Chromium: types into the web chat, clicks a product, sees the reply."""

import pytest

pytestmark = pytest.mark.browser
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 420, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        browser.close()
        assert errors == []


def test_customer_types_a_search_clicks_a_product_and_sees_its_details(live_shop, page) -> None:
    page.goto(live_shop.url + "/")
    page.locator(".msg-out", has_text="welcome").wait_for()  # greeted in the browser's language
    page.fill("#chat-input", "red t-shirt")
    page.click("#chat-send")
    card = page.locator(".card").first
    card.wait_for()
    assert card.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    title = card.locator(".card-title, h3, strong").first.inner_text()
    card.locator("button.chat-button", has_text="Details").click()
    reply = page.locator(".msg-out", has_text="Colours").last
    reply.wait_for()
    assert title in reply.inner_text()
    page.screenshot(path=str(live_shop.app.settings.data_dir) + "/chat.png")


def test_pay_link_opens_the_sandbox_page_and_the_confirmation_appears(live_shop, page) -> None:
    page.goto(live_shop.url + "/")
    page.locator(".msg-out").first.wait_for()
    page.fill("#chat-input", "hello")
    page.click("#chat-send")
    page.locator(".msg-out", has_text="welcome").last.wait_for()
    page.evaluate(
        """async () => {
        const s = localStorage.getItem('chatshop.session');
        const post = (b) => fetch('/chat/api/messages', {method: 'POST', headers: {'content-type': 'application/json'},
            body: JSON.stringify(Object.assign({session: s, client_id: crypto.randomUUID(), text: null, payload: null}, b))});
        await post({payload: 'add?sku=TS-001-RED-M&qty=1'});
        for (const t of ['checkout', 'Ann Lee', '13800138000', '1 Harbour Road, Wan Chai, Hong Kong']) await post({text: t});
    }"""
    )
    page.fill("#chat-input", "yes")
    page.click("#chat-send")
    link = page.locator("a.pay-link").last
    link.wait_for()
    with page.context.expect_page() as popup:
        link.click()
    pay = popup.value
    pay.wait_for_load_state()
    assert "TEST PAYMENT" in pay.inner_text("body")
    pay.click("#pay")
    pay.locator("#status").wait_for()
    page.locator(".msg-out", has_text="Payment received").wait_for(timeout=15000)
