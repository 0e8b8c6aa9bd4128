"""The Salesforce connector: Salesforce as the CRM. Changes come in as SOAP Outbound Messages
(integrations/services/inbox/outbound_messages.py) and Change Data Capture events (polled over
CometD: ``cdc.py``); writes go out through the REST API with simple-salesforce (``writes.py``),
signed in with the OAuth 2.0 JWT bearer flow (``client.py``)."""
