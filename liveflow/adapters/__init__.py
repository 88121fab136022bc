"""The I/O side of LiveFlow: the Kafka clients (:mod:`.kafka`) and what is kept in Redis (:mod:`.redis`).
Adapters may use the core; they never import the developer tools, the command line or the faust layer."""
