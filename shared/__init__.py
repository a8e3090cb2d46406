"""What the processes share, in three parts:

- `shared.contracts`: the wire — envelope, stream names, commands and events (one
  discriminated union per stream), Dataloop JSON models, the workflow read model's keys.
  Imports only pydantic and the standard library.
- `shared.platform`: how a process runs — settings, messaging on Redis Streams, the service
  runtime (health, metrics), observability.
- `shared.rules`: the rules deliberately shared between the gateway (early 422s) and the
  services (the final word): labels and attributes, scenes, painting, task limits, progress.
"""
