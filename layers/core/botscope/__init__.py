"""BotScope: audits a website's anti-bot and anti-agent measures (ABAAM) and keeps watching them."""

__version__ = "0.1.0"
