"""Telegram edge: message text helpers, rendering, the bot application."""
