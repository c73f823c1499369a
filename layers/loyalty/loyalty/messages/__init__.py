"""Member messages (issue 25), first part: what the program says to members and under which rules.

- kinds.py: the six kinds, service or marketing, and the domain event that triggers each;
- policy.py: consent (marketing only with marketing_opt_in) and the weekly cap on marketing messages;
- templates.py: templates per kind and locale, checked when written and rendered in Jinja2's sandbox;
- data/templates.json: the demo program's templates, in English and German, for every kind.
Not built yet: the sending function (SES v2 / the local outbox), the template and message-log routes,
unsubscribe, the member's locale (docs/webhooks.md says what exists).
"""
