"""In-process fakes of the peer systems Throughline talks to (no network)."""
