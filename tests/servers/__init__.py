"""Real servers on loopback that provider tests talk to instead of mocks."""
