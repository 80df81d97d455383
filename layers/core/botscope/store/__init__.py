"""DynamoDB repositories over BotScope's single table. Key design: docs/data-model.md."""
