"""The policy core: pure functions of an incident's state, the playbooks, the calendar and `now`.

- `state`: what the policy reads (`IncidentState`), what it answers (the actions) and
  `apply(state, actions)`, the one statement of what each action changes;
- `decide.decide`: every action due for one incident as of `now`;
- `keys`: every message key.

No I/O and no clock anywhere in this package (GoAlert's `calcUpdates(now)` shape).
"""
