"""Comment corpora: ordinary viewer chat (Chinese and English), host product copy (some with
advertising-law extreme words), moderator notices, and block-level spam in disguised spellings.

Every generator takes the caller's ``random.Random`` and returns ``(text, label)`` where ``text`` is 1-500
characters without control characters and ``label`` is ``""`` (ordinary), :data:`LABEL_BANNED` (contains
a block-level banned term: contact diversion, gambling or fraud) or :data:`LABEL_EXTREME` (host copy with
an extreme word such as 最好 / 全网第一 / 第一). Ordinary chat deliberately contains near misses that a
moderation filter must *not* block (``第一次来``, ``加购物车``, ``微微一笑``, phone-free digits).

The disguises are the ones seen in real live-commerce chat: separators inside words (``微*信``,
``刷 单 返 现``), doubled characters (``加加微微信``), full-width letters and digits (``ＶＸ``, ``１３８``),
homophones (``薇信``, ``威信``), traditional characters (``賭博``, ``刷單返現``), pinyin (``weixin``),
circled digits (``①③⑧``), Chinese numerals and spaced or dashed phone numbers (``138 1234 5678``).
"""

from __future__ import annotations

import random

from liveflow.tools.simulate.record import LABEL_BANNED, LABEL_EXTREME

_SIZES = ("S", "M", "L", "XL", "XXL", "36", "38", "40", "42")
_COLORS_ZH = ("黑色", "白色", "米色", "粉色", "蓝色", "灰色", "卡其色", "酒红色")
_COLORS_EN = ("black", "white", "beige", "pink", "blue", "grey", "green")
_CITIES = ("Singapore", "Kuala Lumpur", "Manila", "Jakarta", "Bangkok", "London", "Sydney", "Toronto")
_COUNTRIES = ("Malaysia", "the US", "Canada", "Australia", "the Philippines", "Germany", "Japan")
_EMOJI = ("👍", "❤️", "😂", "🔥", "🥰", "👏", "!!!", "~", "？", "哈哈")

_VIEWER_ZH = (
    "主播好",
    "来了来了",
    "这个多少钱",
    "怎么买啊",
    "上链接",
    "求链接",
    "已拍",
    "拍了拍了",
    "发货快吗",
    "包邮吗",
    "有优惠券吗",
    "质量怎么样",
    "好看",
    "太好看了吧",
    "666",
    "支持主播",
    "主播辛苦了",
    "{size}码还有吗",
    "{color}的有吗",
    "{n}号链接还有吗",
    "能便宜点吗",
    "第一次来",
    "第一次买，有点紧张",
    "等了好久",
    "抢到了",
    "没抢到，还会补货吗",
    "身高{h}体重{w}穿什么码",
    "声音有点小",
    "有点卡",
    "哈哈哈哈",
    "主播好漂亮",
    "上次买的很好用",
    "已回购{n}次了",
    "给我妈买的",
    "什么时候发货",
    "退换货方便吗",
    "有赠品吗",
    "再讲一下材质",
    "试一下{color}的",
    "冲冲冲",
    "关注了",
    "点赞点赞",
    "和上一个有什么区别",
    "可以开发票吗",
    "保质期多久",
    "已加购物车",
    "微微一笑，真好看",
    "{n}号和{n2}号哪个好",
    "家人们这个真的好用",
    "价格{price}可以",
)
_VIEWER_EN = (
    "hi from {city}!",
    "how much is this?",
    "link please",
    "just ordered",
    "does it come in {size}?",
    "is shipping free?",
    "love the {color_en} one",
    "first time here",
    "can you show the back?",
    "what material is it?",
    "wow",
    "lol",
    "so cute",
    "price please",
    "any discount code?",
    "got it!",
    "sold out already?",
    "can you ship to {country}?",
    "great stream",
    "bought two",
    "is it waterproof?",
    "number {n} please",
)

PRODUCT_NAMES = (
    "保温杯",
    "连衣裙",
    "羽绒服",
    "补水面膜",
    "口红",
    "蓝牙耳机",
    "运动鞋",
    "坚果礼盒",
    "洗发水",
    "电饭煲",
    "纯棉T恤",
    "牛仔裤",
    "猫粮",
    "明前龙井",
    "手机壳",
    "空气炸锅",
)
_HOST_PLAIN = (
    "{product}今天直播间专属价{price}元",
    "家人们，{product}库存不多了，抓紧下单",
    "{n}号链接{product}，{price}元包邮",
    "新来的宝宝点个关注，马上开福袋",
    "这款{product}我自己也在用",
    "拍下备注尺码和颜色",
    "{product}买二送一，只限今天",
    "还有{n}单，拍完就下架",
    "{product}七天无理由退换",
    "大家扣1，我看看有多少人想要{product}",
)
_HOST_EXTREME = (
    "{product}是全网第一低价",
    "这是我用过最好的{product}",
    "{product}销量第一，闭眼入",
    "全网第一的{product}，今天{price}元",
    "最好的{product}就在我们直播间",
    "{product}行业第一品牌",
)
_MODERATOR = (
    "请文明发言，理性消费",
    "下单后请在备注里写尺码",
    "售后问题请联系店铺客服",
    "直播间不会私下交易，谨防上当",
    "福袋开奖结果请看公屏",
)

_CONTACT_WORDS = (
    "微信",
    "微*信",
    "微 信",
    "加微微信",
    "薇信",
    "威信",
    "徽信",
    "V信",
    "vx",
    "VX",
    "ＶＸ",
    "ｖｘ",
    "v x",
    "wx",
    "ＷＸ",
    "weixin",
    "wei xin",
    "扣扣",
    "q q",
)
_CONTACT_TEMPLATES = (
    "加{cw}{id}",
    "加 {cw} {id} 领优惠券",
    "加加微微信{id}",
    "{cw}: {id}",
    "{cw}：{id} 更便宜",
    "想要的私我{cw} {id}",
    "便宜出，{cw}同号 {phone}",
    "有意者联系 {phone}",
    "找我拿货 {cw}{id}",
    "wx: {id}",
    "主页{cw}{id}，原价一半",
    "{phone} 电话同{cw}",
)
_GAMBLING_WORDS = ("赌博", "賭博", "网赌", "博彩", "赌 博", "赌*博", "百家乐", "六合彩")
_GAMBLING_TEMPLATES = (
    "{g}平台日赚{n}00元",
    "{g}稳赚不赔，{cw}{id}",
    "来玩{g}，首充送{n}88",
    "专业{g}带玩，联系{phone}",
)
_FRAUD_WORDS = ("刷单返现", "刷 单 返 现", "刷-单-返-现", "刷單返現", "兼职刷单", "刷单日结")
_FRAUD_TEMPLATES = (
    "{f}，一单一结，{cw}{id}",
    "招{f}宝妈学生党 {phone}",
    "{f}，日入{n}00",
    "在家{f}，加{cw}{id}",
)

_DIGITS_CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"
_DIGITS_FULLWIDTH = "０１２３４５６７８９"
_DIGITS_HANZI = "零一二三四五六七八九"
_PHONE_PREFIXES = ("130", "133", "135", "136", "138", "139", "150", "158", "177", "186", "188", "199")
_ID_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def viewer_comment(rng: random.Random, english_share: float) -> tuple[str, str]:
    """An ordinary viewer comment (label ``""``)."""
    if rng.random() < english_share:
        text = _fill(rng, rng.choice(_VIEWER_EN))
    else:
        text = _fill(rng, rng.choice(_VIEWER_ZH))
    if rng.random() < 0.25:
        text += rng.choice(_EMOJI)
    return text, ""


def host_copy(
    rng: random.Random, product_name: str, price_cents: int, extreme_share: float
) -> tuple[str, str]:
    """Host product copy; with probability ``extreme_share`` it contains an extreme word."""
    price = f"{price_cents // 100}"
    if rng.random() < extreme_share:
        return _fill(rng, rng.choice(_HOST_EXTREME), product_name, price), LABEL_EXTREME
    return _fill(rng, rng.choice(_HOST_PLAIN), product_name, price), ""


def moderator_notice(rng: random.Random) -> tuple[str, str]:
    """A moderator's notice (label ``""``)."""
    return rng.choice(_MODERATOR), ""


def banned_comment(rng: random.Random) -> tuple[str, str]:
    """Spam with a block-level banned term in a disguised spelling (label :data:`LABEL_BANNED`)."""
    roll = rng.random()
    if roll < 0.6:
        template = rng.choice(_CONTACT_TEMPLATES)
    elif roll < 0.8:
        template = rng.choice(_GAMBLING_TEMPLATES)
    else:
        template = rng.choice(_FRAUD_TEMPLATES)
    return (
        template.format(
            cw=rng.choice(_CONTACT_WORDS),
            id=_wechat_id(rng),
            phone=_disguised_phone(rng),
            g=rng.choice(_GAMBLING_WORDS),
            f=rng.choice(_FRAUD_WORDS),
            n=rng.randint(2, 9),
        ),
        LABEL_BANNED,
    )


def _fill(rng: random.Random, template: str, product: str = "", price: str = "") -> str:
    if "{" not in template:
        return template
    n = rng.randint(1, 30)
    return template.format(
        size=rng.choice(_SIZES),
        color=rng.choice(_COLORS_ZH),
        color_en=rng.choice(_COLORS_EN),
        city=rng.choice(_CITIES),
        country=rng.choice(_COUNTRIES),
        n=n,
        n2=n + rng.randint(1, 5),
        h=rng.randint(150, 185),
        w=rng.randint(80, 160),
        price=price or f"{rng.randint(19, 399)}",
        product=product,
    )


def _wechat_id(rng: random.Random) -> str:
    letters = "".join(rng.choice(_ID_LETTERS) for _ in range(rng.randint(3, 6)))
    sep = rng.choice(("_", "", "-"))
    return f"{letters}{sep}{rng.randint(100, 999_999)}"


def _disguised_phone(rng: random.Random) -> str:
    digits = rng.choice(_PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    style = rng.randrange(6)
    if style == 0:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if style == 1:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style == 2:
        return "".join(_DIGITS_CIRCLED[int(d)] for d in digits)
    if style == 3:
        return "".join(_DIGITS_FULLWIDTH[int(d)] for d in digits)
    if style == 4:
        return "".join(_DIGITS_HANZI[int(d)] for d in digits)
    return " ".join(digits)
