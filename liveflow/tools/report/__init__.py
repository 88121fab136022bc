"""``liveflow report``: the post-broadcast review (复盘) as an offline HTML page, CSV files and JSON.

Flow: derived records (from a replay of a JSON Lines file through the core pipeline, or from the derived
Kafka topics) -> :class:`~liveflow.tools.report.collect.Collector` (per room and broadcast) ->
:func:`~liveflow.tools.report.assemble.assemble` (per broadcast, pure) ->
:func:`~liveflow.tools.report.write.render_files` (page, CSV, JSON) -> a directory. docs/report.md
describes what the page shows and the files' columns.
"""

from liveflow.tools.report.collect import REVIEW_TOPICS, BroadcastRecords, Collector
from liveflow.tools.report.costs import Costs, load_costs
from liveflow.tools.report.write import build_report, render_files, write_report

__all__ = [
    "REVIEW_TOPICS",
    "BroadcastRecords",
    "Collector",
    "Costs",
    "build_report",
    "load_costs",
    "render_files",
    "write_report",
]
