"""The PACS REST API: the gateway's routes and the integrations a domain user manages."""
