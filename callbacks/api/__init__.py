"""The callbacks REST API: endpoints, replays, the event catalog, events and deliveries."""
