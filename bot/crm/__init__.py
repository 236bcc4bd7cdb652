"""CRM connectors: pull HubSpot and Salesforce records into Hotlead, write scores back (see records.py)."""
