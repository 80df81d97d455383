"""Adapters between BotScope and AWS-specific formats (the SAM template, Lambda events)."""
