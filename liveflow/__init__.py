"""LiveFlow: real-time monitor for live broadcasts (pure core; the faust layer lives in ``agents``)."""

__version__ = "0.1.0"
