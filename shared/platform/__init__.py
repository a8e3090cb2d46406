"""How a process of the platform runs: settings, Redis Streams messaging, the service
runtime, observability. Knows contracts, never a service's rules or data."""
