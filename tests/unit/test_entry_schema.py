"""An entry's fields are declared in `Entry` (the domain); the stored record and the API views must follow it.

`_ENTRY_PLAIN` (store.records) is derived from `Entry`, so it cannot drift. `EntryModel` and the API views
(`ActivityItem`, `LedgerRecord`) are declared separately: these tests hold them to `Entry` field by field, so a
field added to one and not to the others fails here, naming it.
"""

from dataclasses import fields

from loyalty.domain.model import Entry
from loyalty.members.api import ActivityItem
from loyalty.privacy.api import LedgerRecord
from loyalty.store.models import EntryModel

# Stored, never shown: keys, ordering and what only the rules need (hashes, reversals, previous purchase days).
NOT_SHOWN = {"member_id", "ref", "seq", "ledger_at", "request_hash", "tier_changed", "qualifying_reversed",
             "pending_consumed", "previous_purchase_day", "previous_purchase_day_2", "statistics_later"}
# How the record spells what the domain holds as one value: `ref` is the sort key, `created_seq` the feed's order.
STORED_AS = {"ref": "entry_key"}
RECORD_ONLY = {"created_seq"}  # derived on write (keys.created_seq) for the activity index


def entry_fields() -> set[str]:
    return {field.name for field in fields(Entry)}


def test_the_stored_record_holds_every_entry_field_and_nothing_else():
    stored = set(EntryModel.get_attributes())
    expected = {STORED_AS.get(name, name) for name in entry_fields()}
    assert stored - RECORD_ONLY == expected, {
        "in Entry, not stored": sorted(expected - stored), "stored, not in Entry": sorted(stored - RECORD_ONLY - expected)}
    assert RECORD_ONLY <= stored


def test_the_export_shows_every_entry_field_but_the_internal_ones():
    shown = set(LedgerRecord.model_fields)
    assert NOT_SHOWN <= entry_fields(), sorted(NOT_SHOWN - entry_fields())
    assert shown == entry_fields() - NOT_SHOWN, {
        "in Entry, neither shown nor listed internal": sorted(entry_fields() - NOT_SHOWN - shown),
        "shown, not in Entry": sorted(shown - entry_fields())}


def test_the_activity_item_shows_entry_fields_only_and_the_export_adds_the_rest():
    activity = set(ActivityItem.model_fields)
    assert activity <= entry_fields(), sorted(activity - entry_fields())
    assert activity < set(LedgerRecord.model_fields)
