"""In-memory stand-ins for the services' repositories, kept honest by the repository
contract suites (tests/integration/test_*_repository_contract.py)."""
