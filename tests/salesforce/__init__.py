"""The Salesforce connector against the fake Salesforce (tests/fakes/salesforce.py)."""
