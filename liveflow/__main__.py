"""``python -m liveflow``: the command line (used by the demo to start child processes)."""

from liveflow.cli import main

main()
