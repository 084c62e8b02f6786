"""Subscriptions at work: matching entity changes, the durable outbox, HTTP and MQTT delivery."""
