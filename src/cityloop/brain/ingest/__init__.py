"""Ingest: readings in by HTTP, MQTT, NATS or the simulator, bound to their gateway, decoded to columns."""
