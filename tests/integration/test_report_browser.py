"""``liveflow report`` in a real browser: headless Chromium (Debian's ``chromium``) over DevTools (CDP).

Traffic: the simulator (2 rooms, 14 simulated minutes) with a viewer drop and a spam wave in room-0001,
plus lines written here: a ``broadcast_start`` whose title is hostile markup, ``ad_spend`` reports and a
``broadcast_end``. The report is rendered by the real CLI into a directory; Chromium opens the file (no
network), the test reads the page through ``Runtime.evaluate`` and takes a full-page screenshot.

Checks: no console error or exception; every chart drew (SVG paths with a positive length, a laid-out
box); alert markers are there; the hostile title shows as text and made no element; each key figure
shown equals the broadcast summary that ``liveflow replay`` publishes for the same input.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

START = 1_767_225_600_000  # the simulator's file start (2026-01-01T00:00:00Z)
TITLE = '<script>alert("x")</script><img src=x onerror=alert(1)>春季新品 & 上新'
LIVEFLOW = str(Path(sys.executable).with_name("liveflow"))


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: run `make install` (Debian package chromium)")
    return found


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("report")
    sim = work / "sim.jsonl"
    subprocess.run(
        [LIVEFLOW, "simulate", "-o", str(sim), "--rate", "150", "--duration", "14m", "--rooms", "2",
         "--seed", "5", "--scenario", "drop=0.7@4m+2m:room-0001", "--scenario", "spam_wave@8m+1m:room-0001",
         "--no-broadcasts"],  # the broadcast's start, ad spend and end are written here
        check=True, capture_output=True,
    )  # fmt: skip
    events = work / "events.jsonl"
    extra = [
        {"event_id": "bs-1", "room_id": "room-0001", "type": "broadcast_start", "ts": START,
         "title": TITLE, "host_id": "host-7"},
        *({"event_id": f"ad-{n}", "room_id": "room-0001", "type": "ad_spend", "ts": START + n * 120_000 + 1,
           "amount_cents": 15_000 + n * 100, "campaign_id": "c-1"} for n in range(1, 7)),
    ]  # fmt: skip
    lines = sim.read_bytes().splitlines(keepends=True)
    span = 14 * 60_000
    for ad in reversed(extra[1:]):  # near their time: the simulator's lines are in rough ts order
        lines.insert(len(lines) * (ad["ts"] - START) // span, orjson.dumps(ad) + b"\n")
    with events.open("wb") as out:
        out.write(orjson.dumps(extra[0]) + b"\n")
        out.writelines(lines)
        end = {"event_id": "be-1", "room_id": "room-0001", "type": "broadcast_end", "ts": START + 14 * 60_000}
        out.write(orjson.dumps(end) + b"\n")
    costs = work / "costs.yaml"
    costs.write_text("label: 测试\nfixed_costs:\n  主播坑位费: 3000\n  场地: 450.5\n", encoding="utf-8")
    out_dir = work / "out"
    subprocess.run(
        [LIVEFLOW, "report", str(events), "-o", str(out_dir), "--room", "room-0001", "--costs", str(costs)],
        check=True, capture_output=True,
    )  # fmt: skip
    replayed = subprocess.run(
        [LIVEFLOW, "replay", str(events)], check=True, capture_output=True
    ).stdout.splitlines()
    summaries = [
        orjson.loads(line)["value"]
        for line in replayed
        if b'"broadcast-summaries"' in line and b'"room-0001"' in line
    ]
    assert len(summaries) == 1, summaries
    yield out_dir, summaries[0]


def _open_in_chromium(url: str, profile: Path) -> dict[str, Any]:
    """Start Chromium, inspect ``url`` in a new tab over its DevTools websocket, stop it (by pid)."""
    process = subprocess.Popen(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1100,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().count("\n") >= 1:
                break
            time.sleep(0.1)
        else:
            pytest.fail("chromium did not open its DevTools port within 30 s")
        return asyncio.run(_session(int(port_file.read_text().splitlines()[0]), url))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


async def _session(port: int, url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as answer:
            target = await answer.json()
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            return await _inspect(ws, url)


async def _inspect(ws: aiohttp.ClientWebSocketResponse, url: str) -> dict[str, Any]:
    counter = 0
    problems: list[str] = []
    loaded = asyncio.Event()

    async def call(method: str, **params: Any) -> dict[str, Any]:
        nonlocal counter
        counter += 1
        mine = counter
        await ws.send_str(orjson.dumps({"id": mine, "method": method, "params": params}).decode())
        while True:
            message = orjson.loads((await ws.receive()).data)
            if message.get("id") == mine:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
            event = message.get("method")
            if event == "Runtime.consoleAPICalled" and message["params"]["type"] in ("error", "assert"):
                problems.append(f"console: {message['params']['args']}")
            elif event == "Runtime.exceptionThrown":
                problems.append(f"exception: {message['params']['exceptionDetails']}")
            elif event == "Log.entryAdded" and message["params"]["entry"]["level"] == "error":
                problems.append(f"log: {message['params']['entry']['text']}")
            elif event == "Page.loadEventFired":
                loaded.set()

    for domain in ("Page", "Runtime", "Log"):
        await call(f"{domain}.enable")
    await call("Page.navigate", url=url)
    while not loaded.is_set():
        await call("Runtime.evaluate", expression="1")
        await asyncio.sleep(0.05)
    await call(
        "Runtime.evaluate",
        expression="new Promise(r => requestAnimationFrame(() => r(1)))",
        awaitPromise=True,
    )
    page = await call("Runtime.evaluate", expression=PROBE, returnByValue=True)
    metrics = await call("Page.getLayoutMetrics")
    size = metrics["cssContentSize"]
    shot = await call(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    )

    await call("Runtime.evaluate", expression="1")  # drain events that came with the screenshot
    return {"page": page["result"]["value"], "problems": problems, "png": base64.b64decode(shot["data"])}


PROBE = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const box = svg.getBoundingClientRect();
    const drawn = [...svg.querySelectorAll('path')].filter(p => p.getTotalLength() > 0).length;
    return {label: svg.getAttribute('aria-label'), width: box.width, height: box.height, drawn,
            markers: svg.querySelectorAll('g.marker').length};
  });
  const figures = Object.fromEntries([...document.querySelectorAll('.kf')].map(
    e => [e.dataset.field, e.querySelector('.kf-value').innerText]));
  return {charts, figures, scripts: document.querySelectorAll('script').length,
          images: document.querySelectorAll('img').length, heading: document.querySelector('h2').innerText,
          marks: [...document.querySelectorAll('mark')].map(m => m.innerText).slice(0, 20)};
})()"""

KINDS = {
    "int": ("uv_total", "online_peak", "follows", "comments", "likes", "shares", "orders_paid", "buyers",
            "retained_1m", "retained_5m", "retained_30m"),
    "yuan": ("gmv_cents", "net_gmv_cents", "refund_cents", "gpm_cents", "uv_value_cents", "aov_cents",
             "ad_spend_cents"),
    "pct": ("interaction_rate", "ctr", "conversion_rate"),
    "ratio": ("roi", "ad_roi"),
    "float": ("online_avg",),
    "seconds": ("watch_seconds_per_viewer",),
}  # fmt: skip


def _shown(kind: str, text: str) -> float:
    """The number a shown text means, read independently of the page's formatter."""
    digits = text.replace(",", "").replace("¥", "").replace("%", "").replace(" s", "").strip()
    value = float(digits)
    return {"yuan": value * 100, "pct": value / 100}.get(kind, value)


TOLERANCE = {"int": 0, "yuan": 0.5, "pct": 0.00005, "ratio": 0.005, "float": 0.05, "seconds": 0.05}


def test_report_renders_in_chromium(report_dir: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out_dir, summary = report_dir
    shot = tmp_path / "report.png"
    result = _open_in_chromium((out_dir / "report.html").as_uri(), tmp_path / "profile")
    shot.write_bytes(result["png"])
    page, problems = result["page"], result["problems"]
    assert problems == []
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    charts = page["charts"]
    drawn = [chart["label"] for chart in charts]
    assert drawn == ["在线人数（每分钟）", "互动率与评论（每分钟）", "GMV与成交订单（每分钟）", "转化漏斗",
                     "流量来源（进入人次）", "告警时间线", "违规评论（按类别）"]  # fmt: skip
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["drawn"] > 0, chart
    online = charts[0]
    expected_markers = sum(1 + (a["ended_at"] is not None) for a in summary["alerts"])
    assert summary["alerts"] and online["markers"] == expected_markers

    assert page["scripts"] == 0 and page["images"] == 0  # the hostile title made no element
    assert TITLE in page["heading"]
    assert page["marks"], "moderation examples highlight their matched words"

    figures = page["figures"]
    for kind, fields in KINDS.items():
        for field in fields:
            expected = summary[field]
            shown = figures[field]
            if expected is None:
                assert shown == "—", (field, shown)
                continue
            assert abs(_shown(kind, shown) - expected) <= TOLERANCE[kind], (field, shown, expected)
    assert summary["ad_spend_cents"] == sum(15_000 + n * 100 for n in range(1, 7))
    assert summary["title"] == TITLE and summary["started_by"] == "broadcast_start"
    report = orjson.loads((out_dir / "report.json").read_bytes())
    money = report["broadcasts"][0]["money"]
    assert money["total_costs_yuan"] == round((summary["ad_spend_cents"] + 345_050) / 100, 2)
    target = os.environ.get("REPORT_SAMPLE_PNG")
    if target:
        shutil.copyfile(shot, target)
