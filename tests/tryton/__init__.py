"""Tests against a live Tryton (integrations/connectors/tryton/server.py)."""
