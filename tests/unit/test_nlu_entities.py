import pytest

from nlu.entities import EntityExtractor
from nlu.numbers import cn_to_int, to_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("十二", 12),
        ("两", 2),
        ("一百", 100),
        ("一百五", 150),
        ("两千", 2000),
        ("三万", 30000),
        ("二十五", 25),
    ],
)
def test_chinese_numerals_become_numbers(text: str, value: int) -> None:
    assert cn_to_int(text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("a couple", 2), ("twenty-five", 25), ("3k", 3000), ("7", 7)]
)
def test_english_numbers_become_numbers(text: str, value: int) -> None:
    assert to_number(text) == value


def entities(text: str, expecting: str = "") -> dict[str, str]:
    extractor = EntityExtractor()
    extractor.set_catalog([("T-shirts", "T恤"), ("Shoes", "鞋"), ("Bags", "包")], ["Northpeak"])
    return {e.type: e.value for e in extractor.extract(text, expecting)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("有没有红色的T恤", {"color": "red", "product": "T恤"}),
        ("running shoes under 500", {"product": "running shoes", "price_max": "500"}),
        ("what's in the shoes category", {"category": "Shoes"}),
        ("包邮吗", {"category": None, "product": None}),
        ("add three mugs", {"quantity": "3", "product": "mugs"}),
        ("make it five", {"quantity": "5"}),
        ("改成两件", {"quantity": "2"}),
        ("can i get a refund", {"quantity": None}),
        ("my name is John Smith", {"name": "John Smith"}),
        ("我叫李娜", {"name": "李娜"}),
        ("Li Lei 15800001234", {"name": "Li Lei", "phone": "15800001234"}),
        ("寄到江苏省南京市鼓楼区中山路18号", {"address": "江苏省南京市鼓楼区中山路18号"}),
        (
            "ship to 350 Fifth Ave, New York, NY 10118",
            {"address": "350 Fifth Ave, New York, NY 10118"},
        ),
        ("do you ship to singapore", {"address": None}),
        ("where is SF1234567890", {"tracking_number": "SF1234567890"}),
        ("large please", {"size": "L"}),
        ("3", {"quantity": "3"}),
        ("一百块以内的", {"price_max": "100"}),
        ("50到100元", {"price_min": "50", "price_max": "100"}),
        ("between 20 and 40", {"price_min": "20", "price_max": "40"}),
        ("under $50", {"price_max": "50"}),
        ("300以上", {"price_min": "300"}),
        ("来两件M码的", {"quantity": "2", "size": "M"}),
        ("add two of those", {"quantity": "2"}),
        ("大码 黑色", {"size": "L", "color": "black"}),
        ("42码的跑鞋", {"size": "42"}),
        ("第二个", {"ordinal": "2"}),
        ("the second one", {"ordinal": "2"}),
        ("订单CS100023怎么样了", {"order_id": "CS100023"}),
        ("查一下订单CS2611297KQ4M", {"order_id": "CS2611297KQ4M"}),
        ("CS2611297KQ4M到哪了", {"order_id": "CS2611297KQ4M"}),
        ("where is CS2611297KQ4M", {"order_id": "CS2611297KQ4M"}),
        ("where is cs2611297kq4m?", {"order_id": "CS2611297KQ4M"}),
        ("cancel cs-261129-7kq4m please", {"order_id": "CS2611297KQ4M"}),
        ("my order CS100023 hasn't arrived", {"order_id": "CS100023"}),
        ("订单cs100023的物流", {"order_id": "CS100023"}),
        ("我的电话是139 1234 5678", {"phone": "13912345678"}),
        ("+1 415 555 0132", {"phone": "+14155550132"}),
        ("清空购物车", {"scope": "all"}),
        ("Northpeak tee", {"brand": "Northpeak"}),
    ],
)
def test_entities_are_found_and_normalized(text: str, expected: dict[str, str]) -> None:
    found = entities(text)
    assert {k: found.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    ("text", "expecting", "expected"),
    [("Zhang Wei", "name", "Zhang Wei"), ("王芳", "name", "王芳")],
)
def test_a_bare_value_is_taken_for_the_field_the_bot_asked_for(text, expecting, expected) -> None:
    assert entities(text, expecting)[expecting] == expected


def test_a_product_imported_after_training_is_recognized_by_name() -> None:
    extractor = EntityExtractor()
    extractor.set_catalog([("Home", "家居")], [], ["Moonlight Silk Pillowcase", "月光真丝枕套"])
    found = {
        e.type: e.value
        for e in extractor.extract("do you still have the moonlight silk pillowcase?")
    }
    assert found["product"] == "Moonlight Silk Pillowcase"
    assert {e.value for e in extractor.extract("月光真丝枕套还有吗")} == {"月光真丝枕套"}
