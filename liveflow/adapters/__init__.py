"""The I/O side of LiveFlow: the Kafka clients (:mod:`.kafka`), what is kept in Redis (:mod:`.redis`) and
the notifier, which delivers alerts over HTTP (:mod:`.notify`). Adapters may use the core; they never
import the developer tools, the command line or the faust layer."""
