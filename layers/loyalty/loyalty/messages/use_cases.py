"""The member messages' use cases: send the message an event asks for, forget an erased member's log, read the log,
read and write templates, unsubscribe.

Sending, for one domain event: the kind it triggers (kinds.py), the member (one read: address, name, consent, status,
locale), the decision (policy.py: erased or blocked members hear nothing; marketing needs consent and room under the
weekly cap of the program version in force), the template (the member's locale, else the program's; a stored one,
else the program's default), then a claim written with the log entry only if this event's message of this kind was
never claimed (so an event delivered twice, even at once, sends once); a marketing message's claim also takes a place
in the member's week, only if nobody took one since it was read (so the cap holds exactly under a race), then the
mail. A refusal that will not change ends the entry `failed`; anything else releases the claim and raises, so the
queue offers the event again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from loyalty.clock import Clock
from loyalty.core.programs import Programs
from loyalty.domain import errors
from loyalty.domain.access import Caller
from loyalty.messages.kinds import KINDS, MARKETING, Kind, Trigger, triggered
from loyalty.messages.mail import Email, MailSender, SendRefused
from loyalty.messages.policy import WEEK, decide
from loyalty.messages.store import FAILED, NOT_SENT, SENDING, SENT, LogEntry, MessageStore, StoredTemplate, WeekMoved
from loyalty.messages.templates import check, render
from loyalty.messages.unsubscribe import UnsubscribeTokens

EMAIL = "email"
WEEK_ATTEMPTS = 50  # reads of the member's marketing week while other messages take places in it (each try: one wins)
DEFAULT_VERSION = "default"


class TemplateNotFound(errors.DomainError):
    status, code = 404, "TEMPLATE_NOT_FOUND"


class InvalidTemplate(errors.DomainError):
    """A template that uses what its kind does not provide, or what the sandbox does not allow: `errors` says where."""

    status, code = 422, "INVALID_TEMPLATE"


@dataclass(frozen=True)
class Outcome:
    """What handling one event did: `sent`, `duplicate`, `not_sent` (with the reason), `failed`, or `ignored`."""

    result: str
    reason: str | None = None
    message_id: str | None = None


@dataclass
class Sending:
    store: MessageStore
    clock: Clock
    send: MailSender
    tokens: UnsubscribeTokens
    templates: dict[tuple[str, str], dict[str, str]]  # the program's defaults: {(kind, locale): template}
    programs: Programs  # the program's versions: its name, `locale` and `messages.marketing_per_week` in force now
    sender: str  # the From address
    api_url: str  # where the unsubscribe link points: <api_url>/v1/unsubscribe?token=...
    configuration_set: str | None = None

    def handle(self, detail_type: str, detail: dict[str, Any]) -> Outcome:
        if detail_type == "MemberErased":
            self.store.forget(detail["member_id"])
            return Outcome("forgotten")
        trigger = triggered(detail_type, detail)
        return self.deliver(trigger) if trigger else Outcome("ignored")

    def template_for(self, kind: Kind, locale: str | None, default_locale: str) -> tuple[dict[str, str], str, str]:
        """(template, its version, its locale): the member's locale first, then the program's."""
        for wanted in dict.fromkeys(filter(None, (locale, default_locale))):
            stored = self.store.template(kind.name, wanted)
            if stored is not None:
                return stored.parts(), str(stored.version), wanted
            if (kind.name, wanted) in self.templates:
                return self.templates[kind.name, wanted], DEFAULT_VERSION, wanted
        raise TemplateNotFound(f"no {kind.name} template for {locale} or {default_locale}")

    def deliver(self, trigger: Trigger) -> Outcome:
        member = self.store.recipient(trigger.member_id) if trigger.member_id else None
        if member is None or member.status != "active":
            return Outcome("not_sent", "erased" if member is None or member.status == "erased" else member.status)
        now, kind, program = self.clock.now(), trigger.kind, self.programs.current()
        template, version, locale = self.template_for(kind, member.locale, program.locale)
        for _ in range(WEEK_ATTEMPTS):
            week = self.store.marketing_week(member.member_id) if kind.category == MARKETING else None
            decision = decide(kind, opted_in=member.marketing_opt_in, erased=False,
                              marketing_sent=week.times() if week else [], now=now,
                              per_week=program.messages.marketing_per_week)
            reason = None if decision.send else decision.reason
            if decision.send and not member.email:
                reason = "no_address"
            entry = LogEntry(member.member_id, trigger.event_id, kind.name, kind.category, EMAIL, version, locale,
                             SENDING if reason is None else NOT_SENT, now, reason)
            try:  # a marketing message takes its place in the member's week in the claim's transaction
                claimed = self.store.claim(entry, week if reason is None else None, now - WEEK)
            except WeekMoved:
                continue  # another message took a place meanwhile: read the week again, decide again
            break
        else:
            raise WeekMoved(f"the marketing week of {member.member_id} kept moving")  # the queue offers it again
        if not claimed:
            return Outcome("duplicate")
        if reason is not None:
            return Outcome("not_sent", reason)
        values = {**trigger.values, "member": {"name": member.name or "", "member_id": member.member_id},
                  "program": {"name": program.name}}
        try:
            message_id = self.send(self.email(kind, render(kind, template, values), member.email, member.member_id))
        except SendRefused as refused:
            self.store.finish(entry, FAILED, refused.code)
            return Outcome("failed", refused.code)
        except Exception:
            self.store.release(entry)  # tried again when the queue offers the event again
            raise
        self.store.finish(entry, SENT)
        return Outcome("sent", message_id=message_id)

    def unsubscribe_url(self, member_id: str) -> str:
        return f"{self.api_url.rstrip('/')}/v1/unsubscribe?token={quote(self.tokens.token(member_id))}"

    def email(self, kind: Kind, rendered, to: str, member_id: str) -> Email:
        headers: tuple[tuple[str, str], ...] = ()
        if kind.category == MARKETING:  # RFC 8058 one-click unsubscribe
            headers = (("List-Unsubscribe", f"<{self.unsubscribe_url(member_id)}>"),
                       ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        return Email(sender=self.sender, to=to, subject=rendered.subject, text=rendered.text, html=rendered.html,
                     headers=headers, configuration_set=self.configuration_set,
                     tags={"kind": kind.name, "category": kind.category})


@dataclass
class Templates:
    """The template routes: every kind's templates (stored, else the program's default), and writing one."""

    store: MessageStore
    clock: Clock
    defaults: dict[tuple[str, str], dict[str, str]]

    def all(self, caller: Caller) -> list[dict[str, Any]]:
        from loyalty.domain.access import ADMIN_SCOPE

        caller.require(ADMIN_SCOPE)
        stored = {(t.kind, t.locale): t for t in self.store.templates(list(KINDS))}
        keys = sorted(set(stored) | set(self.defaults))
        return [self._view(kind, locale, stored.get((kind, locale))) for kind, locale in keys]

    def _view(self, kind: str, locale: str, stored: StoredTemplate | None) -> dict[str, Any]:
        if stored is not None:
            return {"kind": kind, "locale": locale, **stored.parts(), "version": str(stored.version),
                    "updated_at": stored.updated_at}
        return {"kind": kind, "locale": locale, **self.defaults[kind, locale], "version": DEFAULT_VERSION, "updated_at": None}

    def get(self, caller: Caller, kind: str, locale: str) -> dict[str, Any]:
        from loyalty.domain.access import ADMIN_SCOPE

        caller.require(ADMIN_SCOPE)
        stored = self.store.template(kind, locale)
        if stored is None and (kind, locale) not in self.defaults:
            raise TemplateNotFound(f"no {kind} template for {locale}")
        return self._view(kind, locale, stored)

    def put(self, caller: Caller, kind: str, locale: str, parts: dict[str, str]) -> dict[str, Any]:
        """Checked (TemplateRefused: 422) before it is stored as the next version; the answer has a preview."""
        from loyalty.domain.access import ADMIN_SCOPE
        from loyalty.messages.templates import SAMPLE, TemplateRefused

        caller.require(ADMIN_SCOPE)
        try:
            checked = check(KINDS[kind], parts)
        except TemplateRefused as refused:
            raise InvalidTemplate("the template is not valid; nothing was stored", errors=refused.problems) from None
        stored = self.store.put_template(kind, locale, checked, self.clock.now())
        preview = render(KINDS[kind], checked, SAMPLE)
        return {**self._view(kind, locale, stored),
                "preview": {"subject": preview.subject, "text": preview.text, "html": preview.html}}


@dataclass
class MessageLog:
    """The member's messages, newest first: the owner member or an admin (the directory refuses anyone else)."""

    store: MessageStore
    directory: Any  # core.directory.Directory: the member a path names, "me" included

    def page(self, caller: Caller, member_id: str, limit: int, cursor: str | None) -> tuple[list[LogEntry], str | None]:
        from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE

        caller.require(MEMBER_SCOPE, ADMIN_SCOPE)
        member = self.directory.member(caller, member_id)
        return self.store.log(member.member_id, limit, cursor)


@dataclass
class Unsubscribe:
    """One-click unsubscribe (RFC 8058): the token's member gets `marketing_opt_in: false`, with a consent entry by
    "unsubscribe", in one transaction (the members feature's profile change). Repeating it changes nothing and answers
    the same; an erased member's token answers the same too (there is nobody left to write to)."""

    tokens: UnsubscribeTokens
    members: Any  # members.store.MemberStore: the profile change and its consent entry, in one transaction
    clock: Clock
    programs: Programs  # the version in force: the member's job schedule is written with it
    retry: Any = None  # core.retry.RetryPolicy

    def __call__(self, token: str) -> str:
        from loyalty.core.retry import RetryPolicy
        from loyalty.domain import ledger, membership
        from loyalty.domain.model import ERASED

        member_id = self.tokens.member_of(token)  # a forged or altered token: 400, nothing read or written
        store = self.members.store

        def attempt() -> None:
            member = store.get_member(member_id)
            if member is None or member.status == ERASED:
                return
            update = membership.update_profile(member, {"marketing_opt_in": False}, self.clock.now(), by_member=False)
            if update is not None:
                self.members.update_profile(update, member.version, ledger.job_schedule(update.member, self.programs.current()), None,
                                            "unsubscribe")

        (self.retry or RetryPolicy()).run(attempt)
        return member_id
