"""Slack incoming webhook: ``POST <webhook url>`` with ``{"text": ..., "blocks": [header, section]}``.

The URL is the credential. Slack allows about one message per second per webhook and answers 429 with
``Retry-After`` beyond that; a section's text is limited to 3000 characters (kept under 2900 bytes here).
@-mentions: ``<@U012AB3CD>`` (member ids) on the first line of the text.
"""

from __future__ import annotations

from liveflow.adapters.notify import render
from liveflow.adapters.notify.channels.base import Channel, Record, Request, json_request
from liveflow.adapters.notify.config import Mention, SlackOptions

HEADER_CHARS = 150


class SlackChannel(Channel[SlackOptions]):
    kind = "slack"
    limits = ((1, 1.0),)
    max_bytes = 2_900

    def build(self, records: list[Record], now: float, mention: Mention | None = None) -> Request:
        title = render.title(records, self.language)
        ats = " ".join(f"<@{user}>" for user in mention.user_ids) if mention else ""
        head = f"{ats}\n" if ats else ""
        text = head + render.body(
            records, self.language, self.tz, self.max_bytes - len(head.encode()), "slack", self.grafana_url
        )
        payload = {
            "text": f"{title}\n{text}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_CHARS]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            ],
        }
        return json_request(self.options.url.reveal(), payload)
