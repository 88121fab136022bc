"""The core of LiveFlow: no I/O. It never imports Kafka, Redis, HTTP or faust clients, nor the adapters,
the developer tools, the command line or the faust layer."""
