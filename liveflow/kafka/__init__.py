"""aiokafka adapters of the worker runtime's ports (:mod:`liveflow.runtime.ports`): the input consumer and
its fetch loop (:mod:`.input`), producers and the changelog reader (:mod:`.connections`), and the
changelog topic (:mod:`.changelog`). Logical topic names become physical ones here, and aiokafka's errors
become the ports' (:class:`~liveflow.runtime.ports.Fenced`)."""
