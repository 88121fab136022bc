"""aiokafka adapters of the worker runtime's ports (:mod:`liveflow.core.runtime.ports`): the input consumer
and its fetch loop (:mod:`.input`), producers and the changelog reader (:mod:`.connections`), the changelog
topic (:mod:`.changelog`), the client options every Kafka connection of LiveFlow is built with
(:mod:`.options`), and Kafka's default partitioner for replays (:mod:`.partitioning`). Logical topic names
become physical ones here, and aiokafka's errors become the ports'
(:class:`~liveflow.core.runtime.ports.Fenced`)."""
