"""Channel kinds by ``type`` name; :func:`build_channel` turns a checked spec into a channel."""

from __future__ import annotations

from typing import Any

from liveflow.adapters.notify.channels.alertmanager import AlertmanagerChannel
from liveflow.adapters.notify.channels.base import Channel
from liveflow.adapters.notify.channels.dingtalk import DingTalkChannel
from liveflow.adapters.notify.channels.feishu import FeishuChannel
from liveflow.adapters.notify.channels.slack import SlackChannel
from liveflow.adapters.notify.channels.webhook import WebhookChannel
from liveflow.adapters.notify.channels.wecom import WeComChannel
from liveflow.adapters.notify.config import ChannelSpec, NotifyConfig

KINDS: dict[str, type[Channel[Any]]] = {
    kind.kind: kind
    for kind in (
        WebhookChannel,
        SlackChannel,
        DingTalkChannel,
        FeishuChannel,
        WeComChannel,
        AlertmanagerChannel,
    )
}


def build_channel(name: str, options: ChannelSpec, config: NotifyConfig) -> Channel[Any]:
    return KINDS[options.type](name, options, config)
