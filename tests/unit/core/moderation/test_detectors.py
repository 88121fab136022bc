"""Contact detectors: mobile numbers, digit runs, URLs, WeChat ids, QQ numbers, their screen and config."""

from __future__ import annotations

import pytest

from liveflow.core.moderation.detectors import (
    ALL_FAMILIES,
    ContactDetector,
    ContactMatch,
    DetectorConfig,
)
from liveflow.core.moderation.matcher import Screen
from liveflow.core.moderation.normalize import collapse_runs, fold, screen_text

DETECTOR = ContactDetector()


def contacts(text: str, detector: ContactDetector = DETECTOR) -> list[tuple[str, str, str]]:
    """(kind, value, matched original text) for each contact; checks the offsets on the way."""
    found = detector.find(fold(text), ALL_FAMILIES)
    for match in found:
        assert 0 <= match.start < match.end <= len(text)
    return [(match.kind, match.value, text[match.start : match.end]) for match in found]


def families_of(text: str, detector: ContactDetector = DETECTOR) -> int:
    screened = screen_text(text)
    screen = Screen(detector.screen_literals)
    return detector.families(text, screened, screen.flags(screen.find(collapse_runs(screened))))


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("电话13812345678", "13812345678"),
        ("找我 138 1234 5678 谢谢", "138 1234 5678"),
        ("138-1234-5678", "138-1234-5678"),
        ("138.1234.5678", "138.1234.5678"),
        ("138 12345678", "138 12345678"),
        ("1381 234 5678", "1381 234 5678"),
        ("1381 2345 678", "1381 2345 678"),
        ("1381234 5678", "1381234 5678"),
        ("1 3 8 1 2 3 4 5 6 7 8", "1 3 8 1 2 3 4 5 6 7 8"),
        ("１３８　１２３４　５６７８", "１３８　１２３４　５６７８"),
        ("①③⑧①②③④⑤⑥⑦⑧", "①③⑧①②③④⑤⑥⑦⑧"),
        ("一三八一二三四五六七八", "一三八一二三四五六七八"),
        ("壹叁捌 壹贰叁肆 伍陆柒捌", "壹叁捌 壹贰叁肆 伍陆柒捌"),
        ("⒈⒊⒏⒈⒉⒊⒋⒌⒍⒎⒏", "⒈⒊⒏⒈⒉⒊⒋⒌⒍⒎⒏"),
        ("+86 139 0000 1111", "139 0000 1111"),
        ("8613912345678", "13912345678"),
        ("13700000000", "13700000000"),
        ("vx:abc123 138 1234 5678", "138 1234 5678"),  # the digits ending a word are not a group
    ],
)
def test_mobile_numbers(text: str, matched: str) -> None:
    found = [contact for contact in contacts(text) if contact[0] != "wechat_id"]
    assert [(kind, original) for kind, _, original in found] == [("mobile", matched)]
    assert len(found[0][1]) == 11 and found[0][1].isdigit()


@pytest.mark.parametrize(
    "text",
    [
        "99 199 299 三个价位",
        "尺码 36 37 38 39 40",
        "编号 18 19 20 21 22 23",
        "订单号 2024 0612 3456 7890",
        "单号 123 4567 890",
        "138块的那个",
        "价格区间 88 128 168 198",
        "身高165体重110斤",
        "12345678901",  # eleven digits, but 12 is not a mobile prefix
        "138 1234 5678 9999",  # part of a longer grouped number
        "订单 123 138 1234 5678",
    ],
)
def test_not_mobile_numbers(text: str) -> None:
    assert all(kind != "mobile" for kind, _, _ in contacts(text))


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("号码 2847561930", "2847561930"),
        ("编号：375920184", "375920184"),
        ("订单2024061212345678", "2024061212345678"),
        ("813812345678", "813812345678"),  # glued to another digit: not a mobile, but a run
    ],
)
def test_digit_runs(text: str, digits: str) -> None:
    assert contacts(text) == [("digits", digits, digits)]


@pytest.mark.parametrize(
    "text",
    [
        "66666666",  # cheering
        "88888888888",
        "2333333333",  # laughing
        "12345678",  # counting
        "9876543210",
        "一二三四五六七八九十",
        "1234567",  # seven digits
        "2024 0612 3456",  # grouped, not contiguous
        "12345678901",  # a straight ascending sequence, even with 11 digits
    ],
)
def test_digit_runs_that_are_not_contacts(text: str) -> None:
    assert contacts(text) == []


@pytest.mark.parametrize(
    ("text", "value", "matched"),
    [
        ("vx:abc123", "abc123", "abc123"),
        ("加vx：Liveshop_88", "liveshop_88", "Liveshop_88"),
        ("VX Hello-World", "hello-world", "Hello-World"),
        ("wx: abcdef12", "abcdef12", "abcdef12"),
        ("微信abc_123456", "abc_123456", "abc_123456"),
        ("微信号 zhang_san_99", "zhang_san_99", "zhang_san_99"),
        ("ＶＸ：ａｂｃ１２３４", "abc1234", "ａｂｃ１２３４"),
        ("威信：shop_lady88", "shop_lady88", "shop_lady88"),
        ("薇信号 abc_1234", "abc_1234", "abc_1234"),
        ("徽信abcdef", "abcdef", "abcdef"),
        ("V信: Hello_99", "hello_99", "Hello_99"),
    ],
)
def test_wechat_ids(text: str, value: str, matched: str) -> None:
    assert contacts(text) == [("wechat_id", value, matched)]


@pytest.mark.parametrize(
    "text",
    [
        "vx:abc12",  # five characters
        "vx 123456789a",  # must start with a letter
        "devx abcdef",  # vx inside a word
        "vx:" + "a" * 21,  # too long
    ],
)
def test_not_wechat_ids(text: str) -> None:
    assert all(kind != "wechat_id" for kind, _, _ in contacts(text))


@pytest.mark.parametrize(
    ("text", "value", "matched"),
    [
        ("扣扣 123456789", "123456789", "123456789"),
        ("qq:12345678", "12345678", "12345678"),  # counting digits: no ``digits`` run, but a QQ number
        ("QQ 2847561930", "2847561930", "2847561930"),
        ("ＱＱ：１０００１", "10001", "１０００１"),
        ("q q 号 5566778", "5566778", "5566778"),
        ("QQ号码是 88889999", "88889999", "88889999"),
        ("qq群号=7788990", "7788990", "7788990"),
        ("扣扣号：375920184", "375920184", "375920184"),
        ("企鹅：98765432", "98765432", "98765432"),
        ("企鵝 - 20481", "20481", "20481"),  # traditional 鵝
        ("🐧 3345678901", "3345678901", "3345678901"),
        ("🐧:556677", "556677", "556677"),
        ("有问题扣扣 一二三四五六七", "1234567", "一二三四五六七"),
        ("qq 13812345678", "13812345678", "13812345678"),  # the context says QQ: not reported as mobile
    ],
)
def test_qq_numbers(text: str, value: str, matched: str) -> None:
    assert contacts(text) == [("qq_id", value, matched)]


@pytest.mark.parametrize(
    "text",
    [
        "QQ 2024年注册的",  # four digits
        "qq 012345",  # starts with 0
        "qq 123456789012",  # twelve digits
        "扣扣子 3 颗",
        "企鹅玩偶 128元",
        "🐧好可爱 99",
        "QQ音乐 12345",  # a word between the context and the number
        "faqq 12345",  # qq inside a word
        "扣 12345",  # one 扣 is a button, not QQ
        "qq    12345",  # more than three separators
    ],
)
def test_not_qq_numbers(text: str) -> None:
    assert all(kind != "qq_id" for kind, _, _ in contacts(text))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("看这里 www.cheap-bags.top！", "www.cheap-bags.top"),
        ("https://t.cn/A6abcd 领券", "https://t.cn/a6abcd"),
        ("HTTP://EXAMPLE.CN/abc.", "http://example.cn/abc"),
        ("淘宝店 shop123.taobao.com", "shop123.taobao.com"),
        ("ｗｗｗ．ｆａｋｅ．ｃｏｍ", "www.fake.com"),
        ("地址 goodbuy.shop/item?id=3", "goodbuy.shop/item?id=3"),
    ],
)
def test_urls(text: str, value: str) -> None:
    assert [(kind, found) for kind, found, _ in contacts(text)] == [("url", value)]


@pytest.mark.parametrize(
    "text",
    [
        "到手价199.9元",
        "1.5米的床",
        "v1.2版本",
        "node.js",
        "M.L.XL都有吗",
        "e.g. 小号",
        "Mr.Wang",
        "abc@qq.com",
    ],
)
def test_not_urls(text: str) -> None:
    assert contacts(text) == []


def test_default_severities_and_configuration() -> None:
    text = "vx:abc123 13812345678 2847561930 www.a.com qq 12345"
    found = {match.kind: match.severity for match in DETECTOR.find(fold(text))}
    assert found == {
        "wechat_id": "block",
        "mobile": "block",
        "digits": "review",
        "url": "review",
        "qq_id": "block",
    }
    quiet = ContactDetector(DetectorConfig(mobile=None, url="block", qq_id=None))
    found = {match.kind: match.severity for match in quiet.find(fold(text))}
    assert found == {"wechat_id": "block", "digits": "review", "url": "block"}
    assert contacts("qq 2847561930", quiet) == [("digits", "2847561930", "2847561930")]
    assert all(kind != "digits" for kind, _, _ in contacts("13812345678", quiet))  # a mobile is not a run


def test_offsets_point_into_the_original_text() -> None:
    text = "㈠⑴ 电话：①③⑧ ①②③④ ⑤⑥⑦⑧！"
    [match] = DETECTOR.find(fold(text))
    assert match == ContactMatch("mobile", "13812345678", 6, 19, "block")
    assert text[match.start : match.end] == "①③⑧ ①②③④ ⑤⑥⑦⑧"


@pytest.mark.parametrize(
    "text",
    [
        "vx:abc123",
        "138 1234 5678",
        "2847561930",
        "www.cheap.top",
        "https://t.cn/x",
        "ｗｗｗ．ｆａｋｅ．ｃｏｍ",
        "威信 abc123",
        "扣扣 12345",
        "🐧12345",
        "企鹅：五五六六七七",
    ],
)
def test_families_let_every_contact_through(text: str) -> None:
    families = families_of(text)
    assert families
    assert DETECTOR.find(fold(text), families) == DETECTOR.find(fold(text))


@pytest.mark.parametrize(
    "text",
    ["主播好漂亮", "到手价199元", "How much is it?", "哈哈哈哈", "1.5米", "有折扣吗 满300减50", "🐧🐧"],
)
def test_families_rule_out_ordinary_comments(text: str) -> None:
    assert families_of(text) == 0
