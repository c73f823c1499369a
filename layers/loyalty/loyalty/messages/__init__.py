"""Member messages (issue 25): what the program says to members, under which rules, and how it is sent.

- kinds.py: the six kinds, service or marketing, and the domain event that triggers each;
- policy.py: consent (marketing only with marketing_opt_in) and the weekly cap on marketing messages;
- templates.py: templates per kind and locale, checked when written and rendered in Jinja2's sandbox;
- data/templates.json: the demo program's templates, in English and German, for every kind;
- store.py: the once-per-event claims, the member's marketing week (the exact cap), the message log (no address, no
  body) and stored templates;
- use_cases.py: sending an event's message, the template routes, the log, one-click unsubscribe;
- mail.py: the e-mail as sent and SES v2 (the platform may provide another sender: the local outbox);
- unsubscribe.py: the signed, member-specific unsubscribe tokens;
- api.py, settings.py, compose.py: the routes' models, the functions' settings, their composition.
"""
