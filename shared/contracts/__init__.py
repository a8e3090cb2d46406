"""The platform's contracts: what crosses a process boundary. Pydantic and the standard
library only (tests/unit/test_layers.py)."""
