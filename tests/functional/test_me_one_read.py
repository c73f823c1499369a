"""The member view by "me" in one read on a warm instance, safe across an erasure and a new enrolment."""

from __future__ import annotations

import pytest

from loyalty.domain import errors
from loyalty.domain.access import ADMIN_SCOPE, MEMBER_SCOPE, Caller
from tests.conftest import make_loyalty

ADMIN = Caller(sub="office", scopes=frozenset({ADMIN_SCOPE}))


def member_caller(sub: str, email: str) -> Caller:
    """A member token of an app account that proves its e-mail (as the pre-token trigger makes them)."""
    return Caller(sub=sub, scopes=frozenset({MEMBER_SCOPE}), verified_email=email)


def reads_of(uc, view) -> tuple[object, list[str]]:
    operations: list[str] = []
    uc.store.on_request(lambda operation, params: operations.append(operation))
    return view(), operations


def test_me_takes_one_read_once_the_instance_knows_the_subject(tables):
    uc = make_loyalty()
    ann = member_caller("sub-ann", "ann@example.com")
    enrolled = uc.enroll(ann, email="ann@example.com", channel="app")
    first, operations = reads_of(uc, lambda: uc.member(ann, "me"))
    assert first.member_id == enrolled.member_id and len(operations) == 2  # the SUB# marker, then the member
    second, operations = reads_of(uc, lambda: uc.member(ann, "me"))  # the same warm instance
    assert second.member_id == enrolled.member_id and len(operations) == 1


def test_after_an_erasure_and_a_new_enrolment_with_the_same_subject_me_is_the_new_member(tables):
    uc = make_loyalty()
    sub = "sub-bob"
    bob = member_caller(sub, "bob@example.com")
    old = uc.enroll(bob, email="bob@example.com", channel="app")
    assert uc.member(bob, "me").member_id == old.member_id  # remembered by this instance
    uc.erase(ADMIN, old.member_id)
    with pytest.raises(errors.MemberNotFound):  # an erased member is no one's me
        uc.member(bob, "me")
    new = uc.enroll(bob, email="bob@example.com", channel="app")
    assert new.member_id != old.member_id
    found, operations = reads_of(uc, lambda: uc.member(bob, "me"))
    assert found.member_id == new.member_id and found.email == "bob@example.com"
    again, operations = reads_of(uc, lambda: uc.member(bob, "me"))
    assert again.member_id == new.member_id and len(operations) == 1


def test_a_remembered_subject_whose_member_was_erased_elsewhere_is_looked_up_again(tables):
    """Another instance erases and re-enrols: this one still remembers the old id, reads it, sees it erased."""
    here, elsewhere = make_loyalty(), make_loyalty()
    carol = member_caller("sub-carol", "carol@example.com")
    old = here.enroll(carol, email="carol@example.com", channel="app")
    assert here.member(carol, "me").member_id == old.member_id
    elsewhere.erase(ADMIN, old.member_id)
    new = elsewhere.enroll(carol, email="carol@example.com", channel="web")
    found, operations = reads_of(here, lambda: here.member(carol, "me"))
    assert found.member_id == new.member_id and found.channel == "web" and len(operations) == 3
