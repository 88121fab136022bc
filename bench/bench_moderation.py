"""Benchmark of the moderation engine: comments scanned per second and lexicon rebuild time.

Setup (deterministic, seed 7): a 10,000-term lexicon = the default lexicon plus synthetic terms (compound
phrases such as 代开+发票, 出售+针孔摄像头+货源, pinyin/Latin handles such as ``dkfp88``, short words from
a pool of less frequent characters, digit-mixed terms), all normalization steps on; 100,000 synthetic
live-commerce comments (Chinese chat with prices, sizes, emoji and punctuation, some traditional Chinese
and English) whose lengths are log-uniform between 5 and 60 characters (mean about 22: live chat is mostly
short), 5 % of them carrying disguised spam (lexicon terms with inserted symbols, width/case changes,
phone numbers, WeChat ids, URLs); a second corpus of the same kind has uniform lengths. No result cache.

Measured on one core (the process is pinned to one CPU when the OS allows it): the median of several
full passes over the comments with ``Moderator.scan`` (wall clock, also per CPU second and per length
bucket) and with ``Moderator.scan_many`` in batches of 512, the same for the uniform-length corpus, and
the median rebuild time (entries created from ``(term, category, severity)`` rows, normalized, automata
built). The cold start of a process (character tables, OpenCC table, default lexicon, first scan) is
reported apart, and so is the load average before and after, since other processes on the machine skew
wall-clock numbers. Results go to bench/results/moderation.json and stdout.

Run: ``.venv/bin/python bench/bench_moderation.py [--runs 5] [--comments 100000]``
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import orjson

from liveflow.core.moderation import LexiconEntry, Moderator, load_default_lexicon

RESULTS = Path(__file__).resolve().parent / "results" / "moderation.json"
LEXICON_SIZE = 10_000
SEED = 7
MIN_CHARS, MAX_CHARS = 5, 60
SPAM_SHARE = 0.05
BATCH = 512  # comments per Moderator.scan_many call, like one consumer poll
T = TypeVar("T")

_PREFIXES_TEXT = (
    "代开 出售 收购 办理 低价 批发 私人 专业 上门 网上 高价回收 正规 内部 秒批 "
    "急售 特价 代办 代购 无抵押 同城 出租 求购 转让 包过 代考 快速 一手 定制 原装 "
    "渠道 货到付款 免费送 全国 诚招 大量"
)
PREFIXES = _PREFIXES_TEXT.split()
_OBJECTS_TEXT = (
    "发票 证件 驾照 学历 文凭 枪支 弓弩 迷药 假烟 手机卡 银行卡 账号 外挂 车牌 "
    "病历 刀具 监听器 窃听器 针孔摄像头 信用卡 公积金 社保卡 身份证 护照 筹码 赌具 "
    "麻将机 作弊器 考试答案 网贷 黑卡 流量卡 电话卡 游戏币 点卡 实名号 定位器 干扰器 "
    "解码器 代理 猎枪 气枪 仿真枪 催情药 减肥药 处方药 学位证 资格证"
)
OBJECTS = _OBJECTS_TEXT.split()
_SUFFIXES_TEXT = "出售 批发 货源 渠道 代理 加盟 平台 群 联系 包邮 出货 回收"
SUFFIXES = _SUFFIXES_TEXT.split()
RARE_CHARS = (
    "鳌冢噩獒鬻彘魍魉饕餮麒麟貔貅蚩尤刑天夔鲲鹏饬赍觊觎龃龉耄耋囹圄桎梏魑魅罔象狴犴睚眦蒲牢嘲风"
    "椒图螭吻囚牛霸下狻猊饕狰獬豸犼蛊巫傩觋谶谵谮讙訾诐诖谲谰谳谵豳邶郐郓鄄鄞酆酃醢醮"
)
LATIN = "abcdefghijklmnopqrstuvwxyz"
PINYIN_INITIALS = "bcdfghjklmnpqrstwxyz"
_SPAM_WORDS_TEXT = "free cheap buy hot sexy real fast best vip instant"
SPAM_WORDS = _SPAM_WORDS_TEXT.split()
_SPAM_OBJECTS_TEXT = "followers likes bitcoin viagra loans pills betting escort tokens giftcards refunds"
SPAM_OBJECTS = _SPAM_OBJECTS_TEXT.split()
CATEGORIES = ("diversion", "fraud", "gambling", "abuse", "sexual", "ad_law", "political", "counterfeit")
SEVERITY_BY_CATEGORY = {"ad_law": "info", "abuse": "review"}

_ITEMS_TEXT = "连衣裙 卫衣 口红 面霜 羽绒服 牛仔裤 运动鞋 保温杯 零食 茶叶 耳机 床单 洗面奶 精华 围巾 帽子"
ITEMS = _ITEMS_TEXT.split()
_COLORS_TEXT = "黑色 白色 红色 米色 蓝色 灰色 卡其色 粉色"
COLORS = _COLORS_TEXT.split()
_GREETINGS_TEXT = (
    "主播好 晚上好 来了来了 支持主播 666 哈哈哈 冲冲冲 已拍 太好看了 好喜欢 想要 姐妹们冲 谢谢主播"
)
GREETINGS = _GREETINGS_TEXT.split()
QUESTIONS = (
    "{item}有{size}码吗",
    "{item}多少钱",
    "什么时候发货",
    "{color}的还有吗",
    "身高{h}体重{w}斤穿什么码",
    "能便宜点吗",
    "{n}号链接讲一下",
    "{item}质量怎么样",
    "{color}{item}显白吗",
    "买{n}件有优惠吗",
    "到手价{price}吗",
    "上次买的{item}很好用",
    "{item}会起球吗",
    "有没有{color}的{item}",
    "库存还有{n}件吗",
)
TRADITIONAL = ("這件多少錢", "請問有現貨嗎", "顏色好漂亮", "什麼時候發貨", "主播講解一下")
ENGLISH = (
    "How much is this?",
    "Is it available in black?",
    "love it",
    "ship to Canada?",
    "what size should I get",
    "so pretty!",
)
DECORATIONS = ("", "", "！", "？", "～", "。", "，", "!!", "😍", "👍", "🙏", "❤️", "…")
IGNORABLES = (" ", "*", ".", "😀", "\u200b", "-", "~", "、")


def synthetic_terms(rng: random.Random, count: int, taken: set[str]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []

    def add(term: str) -> None:
        if term not in taken:
            taken.add(term)
            category = rng.choice(CATEGORIES)
            rows.append((term, category, SEVERITY_BY_CATEGORY.get(category, rng.choice(("block", "review")))))

    while len(rows) < count:
        kind = rng.random()
        if kind < 0.30:
            add(rng.choice(PREFIXES) + rng.choice(OBJECTS))
        elif kind < 0.45:
            add(rng.choice(OBJECTS) + rng.choice(SUFFIXES))
        elif kind < 0.60:
            add(rng.choice(PREFIXES) + rng.choice(OBJECTS) + rng.choice(SUFFIXES))
        elif kind < 0.75:  # pinyin-initial abbreviations such as dkfp, optionally with digits
            letters = "".join(rng.choice(PINYIN_INITIALS) for _ in range(rng.randint(3, 5)))
            add(letters + (str(rng.randint(1, 999)) if rng.random() < 0.4 else ""))
        elif kind < 0.80:
            add(f"{rng.choice(SPAM_WORDS)} {rng.choice(SPAM_OBJECTS)}")
        elif kind < 0.95:
            add("".join(rng.choice(RARE_CHARS) for _ in range(rng.randint(2, 3))))
        else:
            add(rng.choice(PREFIXES) + str(rng.randint(10, 99)) + rng.choice(("万", "元", "折", "号")))
    return rows


def benign_fragment(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(GREETINGS)
    if roll < 0.85:
        return rng.choice(QUESTIONS).format(
            item=rng.choice(ITEMS),
            color=rng.choice(COLORS),
            size=rng.choice(("S", "M", "L", "XL", "36", "38", "40")),
            h=rng.randint(150, 185),
            w=rng.randint(80, 160),
            n=rng.randint(1, 60),
            price=rng.choice(("99", "129", "199.9", "299", "1299")),
        )
    if roll < 0.92:
        return rng.choice(ENGLISH)
    return rng.choice(TRADITIONAL)


def disguise(rng: random.Random, term: str) -> str:
    chars = []
    for char in term:
        if char.isascii() and char.isalpha() and rng.random() < 0.5:
            chars.append(chr(ord(char.upper()) + 0xFEE0) if rng.random() < 0.5 else char.upper())
        else:
            chars.append(char)
        if rng.random() < 0.4:
            chars.append(rng.choice(IGNORABLES))
    return "".join(chars)


def spam_fragment(rng: random.Random, terms: list[str]) -> str:
    roll = rng.random()
    if roll < 0.6:
        return disguise(rng, rng.choice(terms))
    if roll < 0.75:
        number = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        return rng.choice(("电话", "联系", "")) + rng.choice(
            (number, f"{number[:3]} {number[3:7]} {number[7:]}")
        )
    if roll < 0.9:
        handle = rng.choice(LATIN) + "".join(
            rng.choice(LATIN + "0123456789_") for _ in range(rng.randint(5, 12))
        )
        return rng.choice(("vx:", "VX ", "微信 ", "wx：")) + handle
    return "看 www." + "".join(rng.choice(LATIN) for _ in range(6)) + rng.choice((".com", ".top", ".cn"))


def benign_text(rng: random.Random, length: int) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) < length:
        parts.append(benign_fragment(rng))
        parts.append(rng.choice(DECORATIONS))
    return "".join(parts)[:length]


def comments(rng: random.Random, count: int, spam_terms: list[str], uniform: bool = False) -> list[str]:
    """Comments whose length is log-uniform in [5, 60] (live chat is mostly short), or uniform if asked;
    5 % carry spam."""
    result = []
    while len(result) < count:
        if uniform:
            length = rng.randint(MIN_CHARS, MAX_CHARS)
        else:
            length = round(math.exp(rng.uniform(math.log(MIN_CHARS), math.log(MAX_CHARS))))
        if rng.random() < SPAM_SHARE:
            spam = spam_fragment(rng, spam_terms)[:MAX_CHARS]
            filler = benign_text(rng, max(0, length - len(spam)))
            text = spam + filler if rng.random() < 0.5 else filler + spam
        else:
            text = benign_text(rng, length)
        result.append(text)
    return result


def pin_to_one_cpu() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    return "not pinned"


def timed_passes(scan: Callable[[T], object], texts: list[T], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of ``runs`` full passes of ``scan`` over ``texts`` (texts or batches)."""
    wall, cpu = [], []
    for _ in range(runs):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        for text in texts:
            scan(text)
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--comments", type=int, default=100_000)
    args = parser.parse_args()
    pinning = pin_to_one_cpu()
    load_before = os.getloadavg()
    rng = random.Random(SEED)

    cold_start = time.perf_counter()  # character tables, OpenCC table, default lexicon, first scan
    default_entries = load_default_lexicon()
    Moderator.from_entries(default_entries).scan("预热 warm-up 12345678")
    cold_start_seconds = time.perf_counter() - cold_start
    default_rows = [(e.term, e.category, e.severity) for e in default_entries]
    deny_rows = [row for row in default_rows if row[2] is not None]
    synthetic = synthetic_terms(rng, LEXICON_SIZE - len(deny_rows), {row[0] for row in default_rows})
    rows = default_rows + synthetic

    def rebuild() -> Moderator:
        return Moderator.from_entries(
            [LexiconEntry(term, category, severity) for term, category, severity in rows]
        )

    rebuild_times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        moderator = rebuild()
        rebuild_times.append(time.perf_counter() - start)

    spam_terms = [term for term, _, severity in rows if severity is not None]
    texts = comments(rng, args.comments, spam_terms)
    full_scans = sum(map(moderator.needs_full_scan, texts))  # also warms the screen table up
    with_hits = sum(bool(moderator.scan(text)) for text in texts)
    wall, cpu = timed_passes(moderator.scan, texts, args.runs)
    batches = [texts[start : start + BATCH] for start in range(0, len(texts), BATCH)]
    batch_wall, _ = timed_passes(moderator.scan_many, batches, args.runs)
    by_length = {}
    for low, high in ((5, 15), (16, 30), (31, 60)):
        bucket = [text for text in texts if low <= len(text) <= high]
        bucket_wall, _ = timed_passes(moderator.scan, bucket, args.runs)
        by_length[f"{low}-{high}"] = {
            "share": round(len(bucket) / len(texts), 3),
            "comments_per_second": round(len(bucket) / statistics.median(bucket_wall)),
        }
    uniform = comments(rng, args.comments, spam_terms, uniform=True)
    uniform_wall, _ = timed_passes(moderator.scan, uniform, args.runs)
    uniform_batches = [uniform[start : start + BATCH] for start in range(0, len(uniform), BATCH)]
    uniform_batch_wall, _ = timed_passes(moderator.scan_many, uniform_batches, args.runs)

    results = {
        "benchmark": "moderation",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": pinning,
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "lexicon_terms": len(deny_rows) + len(synthetic),
        "allow_phrases": len(rows) - len(deny_rows) - len(synthetic),
        "comments": len(texts),
        "mean_comment_chars": round(statistics.fmean(map(len, texts)), 1),
        "comments_needing_full_scan": round(full_scans / len(texts), 4),
        "comments_with_hits": round(with_hits / len(texts), 4),
        "runs": args.runs,
        "comments_per_second": round(len(texts) / statistics.median(wall)),
        "comments_per_second_runs": [round(len(texts) / seconds) for seconds in wall],
        "comments_per_cpu_second": round(len(texts) / statistics.median(cpu)),
        "microseconds_per_comment": round(statistics.median(wall) / len(texts) * 1e6, 2),
        "comments_per_second_by_length": by_length,
        f"comments_per_second_scan_many_{BATCH}": round(len(texts) / statistics.median(batch_wall)),
        "uniform_lengths": {
            "mean_comment_chars": round(statistics.fmean(map(len, uniform)), 1),
            "comments_per_second": round(len(uniform) / statistics.median(uniform_wall)),
            f"comments_per_second_scan_many_{BATCH}": round(
                len(uniform) / statistics.median(uniform_batch_wall)
            ),
        },
        "rebuild_seconds_median": round(statistics.median(rebuild_times), 4),
        "rebuild_seconds_runs": [round(seconds, 4) for seconds in rebuild_times],
        "cold_start_seconds": round(cold_start_seconds, 4),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.write(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
