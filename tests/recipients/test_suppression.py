"""The suppression list on a real SQLite file and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from capitolmail.errors import CapitolmailError, InputError
from capitolmail.outbox import Store, Suppression, SuppressionReason, email_key
from capitolmail.recipients.suppression import import_suppressions, suppress, unsuppress

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


def test_add_list_and_check_by_the_messages_key(store: Store) -> None:
    store.add_suppression("jane@example.org", "unsubscribe", at=NOW, detail="link in alert 3")
    suppress(store, " Bob@Example.ORG ", "bounce", NOW)

    assert [(s.email, s.reason, s.at, s.detail) for s in store.list_suppressions()] == [
        ("Bob@example.org", SuppressionReason.BOUNCE, NOW, None),
        ("jane@example.org", SuppressionReason.UNSUBSCRIBE, NOW, "link in alert 3"),
    ]
    among = store.suppressed_among(["JANE@example.org", "bob@example.org", "sam@example.org"])
    assert among == {"jane@example.org", "bob@example.org"}
    assert among == {email_key("Jane@Example.org"), email_key("BOB@example.org")}


def test_adding_again_keeps_one_row_with_the_new_reason_and_time(store: Store) -> None:
    store.add_suppression("jane@example.org", "unsubscribe", at=NOW)
    store.add_suppression("JANE@example.org", "spam_report", at=LATER, detail="ESP event")

    assert store.list_suppressions() == [
        Suppression("JANE@example.org", SuppressionReason.SPAM_REPORT, LATER, "ESP event")
    ]


def test_remove(store: Store) -> None:
    suppress(store, "jane@example.org", "manual", NOW)
    assert unsuppress(store, "Jane@Example.org") is True
    assert unsuppress(store, "jane@example.org") is False
    assert store.list_suppressions() == []
    assert store.suppressed_among(["jane@example.org"]) == set()


def test_a_batch_larger_than_one_query_is_answered(store: Store) -> None:
    entries = [Suppression(f"p{i}@example.org", SuppressionReason.BOUNCE, NOW) for i in range(2500)]
    assert store.add_suppressions(entries) == 2500
    asked = [f"P{i}@example.org" for i in range(0, 5000, 2)]
    assert store.suppressed_among(asked) == {f"p{i}@example.org" for i in range(0, 2500, 2)}


def test_bad_input_is_refused(store: Store) -> None:
    with pytest.raises(CapitolmailError, match='"not-an-address" is not a valid address'):
        suppress(store, "not-an-address", "manual", NOW)
    with pytest.raises(CapitolmailError, match='unknown reason "bounced" \\(did you mean "bounce"'):
        suppress(store, "jane@example.org", "bounced", NOW)
    with pytest.raises(ValueError):
        store.add_suppression("jane@example.org", "whim", at=NOW)
    with pytest.raises(ValueError, match="aware"):
        store.add_suppression("jane@example.org", "manual", at=datetime(2025, 3, 1))
    assert store.list_suppressions() == []


def test_import_a_csv(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "suppressed.csv"
    source.write_text(
        "Email,Reason,Detail\n"
        "a@example.org,unsubscribe,\n"
        "B@example.org,,from the old ESP\n"
        "\n"
        "a@example.org,Bounce,\n",
        encoding="utf-8",
    )
    result = import_suppressions(store, source, NOW)
    assert (result.read, result.written) == (3, 2)
    assert [(s.email, s.reason, s.detail) for s in store.list_suppressions()] == [
        ("a@example.org", SuppressionReason.BOUNCE, None),
        ("B@example.org", SuppressionReason.MANUAL, "from the old ESP"),
    ]


def test_import_reports_every_bad_row_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "suppressed.csv"
    source.write_text(
        "email,reason\nok@example.org,manual\nnope,manual\nx@example.org,unsubscribed\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        import_suppressions(store, source, NOW, display_path="suppressed.csv")
    assert [str(problem) for problem in caught.value.problems] == [
        'suppressed.csv:3: email: "nope" is not a valid address (An email address must have an '
        "@-sign); correct it or delete the row",
        'suppressed.csv:4: reason: unknown reason "unsubscribed" (did you mean "unsubscribe"?); '
        "use one of unsubscribe, bounce, spam_report, manual",
    ]
    assert store.list_suppressions() == []


def test_import_needs_an_email_column(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "suppressed.csv"
    source.write_text("address\nok@example.org\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_suppressions(store, source, NOW, display_path="suppressed.csv")
    assert str(caught.value) == (
        'suppressed.csv:1: missing column "email"; the header must be email[,reason][,detail]'
    )
