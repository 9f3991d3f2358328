"""The store fixtures (`database_url`, `store`) live in tests/conftest.py."""
