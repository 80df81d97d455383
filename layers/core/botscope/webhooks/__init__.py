"""Outbound webhooks: endpoints, fan-out of events, signed delivery with retries."""
