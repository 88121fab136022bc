"""Channel kinds by ``type`` name; :func:`build_channel` turns a checked spec into a channel."""

from __future__ import annotations

from liveflow.adapters.notify.channels.alertmanager import AlertmanagerChannel
from liveflow.adapters.notify.channels.base import Channel
from liveflow.adapters.notify.channels.dingtalk import DingTalkChannel
from liveflow.adapters.notify.channels.feishu import FeishuChannel
from liveflow.adapters.notify.channels.slack import SlackChannel
from liveflow.adapters.notify.channels.webhook import WebhookChannel
from liveflow.adapters.notify.channels.wecom import WeComChannel
from liveflow.adapters.notify.config import ChannelSpec

KINDS: dict[str, type[Channel]] = {
    "webhook": WebhookChannel,
    "slack": SlackChannel,
    "dingtalk": DingTalkChannel,
    "feishu": FeishuChannel,
    "wecom": WeComChannel,
    "alertmanager": AlertmanagerChannel,
}


def build_channel(spec: ChannelSpec, language: str, timezone: str) -> Channel:
    return KINDS[spec.type](spec, language, timezone)


def check_channels(spec_by_name: dict[str, ChannelSpec], language: str, timezone: str) -> None:
    """Build every channel once, so a missing credential fails at start-up (NotifyConfigError)."""
    for spec in spec_by_name.values():
        build_channel(spec, language, timezone)
