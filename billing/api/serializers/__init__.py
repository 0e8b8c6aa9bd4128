"""The API's serializers, one module per resource (docs/contract.md §2)."""
