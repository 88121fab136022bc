"""The thin faust layer: app, topics, agents, timers and web views around the pure ``liveflow`` core."""
