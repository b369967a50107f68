"""Test helpers: the Bot API emulator, the feed server, PostgreSQL, engine and service kits."""
