"""The registry's use cases, one module per thing acted on. Each takes its unit of work and the
policy values it needs as arguments, runs in one transaction and emits what changed."""
