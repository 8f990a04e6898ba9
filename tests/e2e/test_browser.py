"""A person in headless Chromium: types into the web chat, clicks a product, sees the reply,
pays on the pay pages; all under the server's Content-Security-Policy, which must never have
to block anything."""

import re
from dataclasses import dataclass, field

import pytest

from tests.e2e.conftest import WebChatCustomer

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


@dataclass
class Console:
    """What the browser reported: script errors, and the console's errors and warnings
    (where Chromium reports every Content-Security-Policy violation)."""

    page_errors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def listen(self, context) -> None:
        context.on("weberror", lambda e: self.page_errors.append(str(e.error)))
        context.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None,
        )

    @property
    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def browser(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, console: Console):
    context = browser.new_context(viewport={"width": 420, "height": 860})
    console.listen(context)
    yield context.new_page()
    context.close()
    assert console.page_errors == []
    assert console.csp_violations == []


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
        const post = (b) => fetch('/chat/api/messages', {method: 'POST', headers: {'content-type': 'application/json'},
            body: JSON.stringify(Object.assign({client_id: crypto.randomUUID(), text: null, payload: null}, b))});
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


def place_order(url: str, lang: str) -> str:
    """An order placed over the web chat API, in `lang`; its sandbox pay link."""
    customer = WebChatCustomer(url)
    zh = lang == "zh"
    customer.send("你好" if zh else "hello")
    customer.send(payload="add?sku=TS-001-RED-M&qty=1")
    customer.send("结算" if zh else "checkout")
    answers = (
        ["张伟", "13812345678", "上海市浦东新区世纪大道100号"]
        if zh
        else ["Jane Doe", "+1 415 555 0132", "500 Market Street, San Francisco"]
    )
    for answer in answers:
        customer.send(answer)
    return customer.send(payload="confirm")[0]["link"]["url"]


@pytest.mark.parametrize(
    ("lang", "warning"),
    [
        ("en", "TEST PAYMENT — no money moves."),
        ("zh", "测试支付 · 不会扣款"),
    ],
)
def test_the_sandbox_pay_page_warns_loudly_and_pays_under_the_csp(
    live_shop, page, console: Console, lang: str, warning: str
) -> None:
    page.goto(place_order(live_shop.url, lang))
    banner = page.locator("#test-banner")
    assert warning in banner.inner_text()
    # the warning is styled by the static stylesheet: big, pinned to the top, on red
    style = banner.evaluate(
        """el => { const s = getComputedStyle(el), t = getComputedStyle(el.querySelector('strong'));
        return {position: s.position, top: el.getBoundingClientRect().top,
                color: s.backgroundImage, size: parseFloat(t.fontSize)}; }"""
    )
    assert style["position"] == "sticky" and style["top"] == 0
    assert "gradient" in style["color"] and style["size"] >= 24
    page.screenshot(path=f"{live_shop.app.settings.data_dir}/pay-{lang}.png", full_page=True)

    page.click("#pay")
    status = page.locator("#status")
    status.wait_for()
    assert re.search(r"CS\d{6}[0-9A-Z]{5}", status.inner_text())
    assert warning in page.locator("#test-banner").inner_text()  # still a test after paying
    page.screenshot(path=f"{live_shop.app.settings.data_dir}/paid-{lang}.png", full_page=True)
    assert console.errors == []


FAKE_BRIDGE = """
window.WeixinJSBridge = {
  invoke(name, request, done) {
    window.__invoked = {name, request};
    done({err_msg: "get_brand_wcpay_request:cancel"});
  },
};
"""


def test_the_in_wechat_checkout_hands_its_signed_request_to_the_bridge_under_the_csp(
    sample_db, tmp_path, interpreter, browser, console: Console
) -> None:
    from tests.e2e.test_wechat import buy, wechat_shop

    with wechat_shop(sample_db, tmp_path, interpreter) as shop:
        user = shop.fake.user("o_browser")
        buy(shop, user)
        link = re.search(r'href="([^"]+/pay/wechat/[^"]+)"', "\n".join(user.texts()))[1]
        token = link.rsplit("/", 1)[1]

        # outside WeChat there is no bridge: the page says to open it in WeChat
        context = browser.new_context(viewport={"width": 420, "height": 860})
        console.listen(context)
        page = context.new_page()
        page.goto(link)
        page.click("#pay")
        assert page.locator("#hint").is_visible()
        page.screenshot(path=f"{tmp_path}/wechat-pay.png", full_page=True)

        # inside WeChat the static script passes the page's signed request to the bridge
        context.add_init_script(FAKE_BRIDGE)
        page = context.new_page()
        page.goto(link)
        page.click("#pay")
        invoked = page.evaluate("window.__invoked")
        assert invoked["name"] == "getBrandWCPayRequest"
        assert invoked["request"]["package"] == f"prepay_id={shop.pay.order(token).prepay_id}"
        assert {"appId", "timeStamp", "nonceStr", "signType", "paySign"} <= set(invoked["request"])
        context.close()
    assert console.page_errors == [] and console.csp_violations == []
