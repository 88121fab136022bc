"""Developer and operator tools around the worker: the local Kafka + Redis stack and the chaos harness
(:mod:`.devstack`), the traffic simulator (:mod:`.simulate`), ``liveflow demo`` (:mod:`.demo`) and the
``liveflow top`` terminal view (:mod:`.top`). Tools may use the core and the adapters; neither of those
imports a tool."""
