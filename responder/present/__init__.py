"""The presentation layer: the engine hands it data, it returns words (pure, no I/O).

- `formats`: one formatter per thing (a time, a span, a grade, a kind, a role, a channel, a step);
- `views`: the data it renders (`IncidentView`, `StepView`, `ReportLine`);
- `cards`: the incident card and its buttons;
- `messages`: one builder per message (notices, escalation header, confirmations, feed health);
- `lists`: the chat's overviews (/status, /list, /oncall, /help);
- `html`: Telegram HTML: escaping, safe truncation, callback data.
"""
