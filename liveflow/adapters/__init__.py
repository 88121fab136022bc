"""The I/O side of LiveFlow: the Kafka clients (:mod:`.kafka`). Adapters may use the core; they never import
the developer tools, the command line or the faust layer."""
