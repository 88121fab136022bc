"""Hostile viewer comments, as a banned-words alert may quote them, and what each must not become.

``COMMENTS``: (comment, words that must still be readable after escaping). The list covers mentions of
every channel (Slack ``<!channel>``/``<!here>``/``<@U…>``/``<#C…>``, ``@channel``, DingTalk ``@all`` and
``@<phone>``, WeCom ``<@userid>``, Feishu ``<at user_id="all">``), links (Slack ``<url|text>``, markdown
links and images, autolinks, bare URLs, domains and e-mail addresses), HTML, entities, zero-width and bidi
characters, newlines that fake a header or a new alert, markdown emphasis, and very long text.
"""

from __future__ import annotations

import re
import unicodedata

COMMENTS: list[tuple[str, tuple[str, ...]]] = [
    ("<!channel> 快来 <http://evil.example|点我领券>", ("快来", "点我领券")),
    ("<!here> 主播跑路了", ("主播跑路了",)),
    ("<!everyone> 紧急", ("紧急",)),
    ("<@U0123ABCD> 你好 <#C0123ABCD|general>", ("你好", "general")),
    ("@channel @here @everyone 看这里", ("看这里",)),
    ("![](http://track.example/pixel.gif) 关注我", ("关注我",)),
    ("[领红包](http://evil.example/red?x=1) 快点", ("领红包", "快点")),
    ("[点我](javascript:alert(1))", ("点我",)),
    ("<http://evil.example> 和 <https://evil.example/a|官方客服>", ("官方客服",)),
    ("加我 http://evil.example/x 或 https://t.example/y?q=1&r=2", ("加我",)),
    ("www.evil.example 领取优惠 evil-shop.cn/coupon", ("领取优惠",)),
    ("vx: scam.bot@mail.example 私聊", ("私聊",)),
    ("@all 今晚抽奖 @13800000000", ("今晚抽奖",)),
    ("<@wangwei> 看私信 <@all>", ("看私信",)),
    ('<at user_id="all">所有人</at> 福利 <at user_id="ou_123">张三</at>', ("所有人", "福利", "张三")),
    (
        '<a href="http://evil.example">官方</a><img src="http://evil.example/x.png"><script>x</script>',
        ("官方",),
    ),
    ('<font color="warning">系统通知</font> &lt;!channel&gt; &amp; &#60;@U1&#62;', ("系统通知",)),
    ("正常\u200b评论\u200d带\u2060零宽\ufeff字符", ("正常评论带零宽字符",)),
    ("bidi \u202eloof lirpa\u202c 和 \u2066隔离\u2069 \u061c", ("bidi", "隔离")),
    ("第一行\n\n**[告警·严重] 流量骤降 vip-001**\n# 系统通知\n> 引用\r\n- 列表", ("第一行", "系统通知")),
    ("*粗体* _斜体_ ~删除~ `代码` ```块``` | 表格 |", ("粗体", "斜体", "代码")),
    ("\\[转义\\](http://evil.example) \\<!channel\\>", ("转义",)),
    ("Ｈｔｔｐ://全角 和 evil\u3002example 和 ＜!channel＞", ("全角",)),
    ("超长" + "刷屏" * 400 + "http://evil.example", ("超长刷屏",)),
]

_SCHEME = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://")
_DOMAIN = re.compile(r"(?i)\b[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}\b")


def invisible(text: str) -> list[str]:
    """Format characters (zero-width, bidi) in ``text``."""
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cf"]


def problems(rendered: str, fmt: str) -> list[str]:
    """What in the rendered text of comments could mention, link, show an image or hide text in ``fmt``."""
    found: list[str] = []
    if invisible(rendered):
        found.append(f"invisible characters {invisible(rendered)}")
    if "\n" in rendered or "\r" in rendered:
        found.append("a line break")
    if "@" in rendered:
        found.append("'@' (a mention)")
    if _SCHEME.search(rendered):
        found.append(f"a URL {_SCHEME.search(rendered)}")
    if _DOMAIN.search(rendered):
        found.append(f"a domain {_DOMAIN.search(rendered)}")
    if fmt == "slack":
        if "<" in rendered or ">" in rendered:
            found.append("'<' or '>' (Slack mentions and links)")
        if re.search(r"&(?!amp;|lt;|gt;)", rendered):
            found.append("an unescaped '&'")
    elif set("<>&") & set(rendered):
        found.append("'<', '>' or '&' (HTML, Feishu <at>, WeCom <@id>)")
    if fmt == "markdown":
        for syntax in ("](", "![", "[", "]", "(", ")", "*", "_", "`", "#", "|"):
            if syntax in rendered.replace("[.]", "").replace("[:]", ""):
                found.append(f"markdown {syntax!r}")
    return found
