"""The outbox store on SQLite and PostgreSQL: order, leases, coalescing, settling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.outbox import OutboxAction, TicketRef
from storage import models
from storage.database import Database
from storage.outbox import OutboxStore
from tests.integration.forwarding import queue

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def test_rows_of_one_incident_come_one_at_a_time_in_order(db: Database) -> None:
    store = OutboxStore(db, owner="a")
    await queue(db, 1, "jira", OutboxAction.CREATE, "1:create", now=T0)
    await queue(db, 1, "jira", OutboxAction.RESOLVE, "1:resolve", now=T0)
    await queue(db, 2, "jira", OutboxAction.CREATE, "2:create", now=T0)

    first = await store.claim("jira", 10, T0, LEASE)
    assert [(c.head.incident_id, c.head.action) for c in first] == [
        (1, OutboxAction.CREATE),
        (2, OutboxAction.CREATE),
    ]
    assert await store.claim("jira", 10, T0, LEASE) == []  # leased, and the resolve waits
    # past the lease the create comes back (its holder died); the resolve still waits
    expired = await store.claim("jira", 10, T0 + LEASE * 2, LEASE)
    assert [c.head.action for c in expired] == [OutboxAction.CREATE, OutboxAction.CREATE]
    await store.delivered([(first[0], T0, "ok")])
    second = await store.claim("jira", 10, T0, LEASE)
    assert [(c.head.incident_id, c.head.action) for c in second] == [(1, OutboxAction.RESOLVE)]


async def test_a_lease_keeps_other_replicas_off_until_it_expires(db: Database) -> None:
    await queue(db, 1, "jira", OutboxAction.CREATE, "1:create", now=T0)
    first = await OutboxStore(db, owner="a").claim("jira", 10, T0, LEASE)
    other = OutboxStore(db, owner="b")
    assert await other.claim("jira", 10, T0 + timedelta(seconds=10), LEASE) == []
    taken = await other.claim("jira", 10, T0 + LEASE + timedelta(seconds=1), LEASE)
    assert [c.head.id for c in taken] == [first[0].head.id]
    assert taken[0].head.attempts == 2  # claimed twice: a create here must look up first


async def test_claims_are_per_sink_and_bounded(db: Database) -> None:
    store = OutboxStore(db, owner="a")
    for incident in range(1, 6):
        await queue(db, incident, "jira", OutboxAction.CREATE, f"{incident}:jira", now=T0)
        await queue(db, incident, "mail", OutboxAction.CREATE, f"{incident}:mail", now=T0)
    assert len(await store.claim("jira", 3, T0, LEASE)) == 3
    assert {c.head.sink for c in await store.claim("mail", 10, T0, LEASE)} == {"mail"}


async def test_updates_and_comments_coalesce_up_to_the_next_lifecycle_row(db: Database) -> None:
    store = OutboxStore(db, owner="a")
    await queue(db, 1, "jira", OutboxAction.COMMENT, "c1", now=T0, text="first")
    await queue(
        db, 1, "jira", OutboxAction.UPDATE, "u1", now=T0, changes={"priority": ["P3", "P2"]}
    )
    await queue(db, 1, "jira", OutboxAction.COMMENT, "c2", now=T0, text="second")
    await queue(db, 1, "jira", OutboxAction.RESOLVE, "r1", now=T0)
    await queue(db, 1, "jira", OutboxAction.COMMENT, "c3", now=T0, text="after")

    (claim,) = await store.claim("jira", 10, T0, LEASE)
    assert [item.idempotency_key for item in claim.items] == ["c1", "u1", "c2"]
    await store.delivered([(claim, T0, "ok")])
    rows = await models.OutboxRow.filter(idempotency_key__in=["c1", "u1", "c2"])
    assert {row.state for row in rows} == {"delivered"}  # merged, never dropped
    (next_claim,) = await store.claim("jira", 10, T0, LEASE)
    assert next_claim.head.idempotency_key == "r1" and next_claim.followers == ()


async def test_reschedule_waits_and_dead_letter_unblocks_the_rest(db: Database) -> None:
    store = OutboxStore(db, owner="a")
    await queue(db, 1, "jira", OutboxAction.CREATE, "1:create", now=T0)
    await queue(db, 1, "jira", OutboxAction.COMMENT, "1:comment", now=T0)
    (claim,) = await store.claim("jira", 10, T0, LEASE)
    later = T0 + timedelta(minutes=1)
    await store.reschedule(claim, later, "HTTP 503", "busy")
    assert await store.claim("jira", 10, T0 + timedelta(seconds=59), LEASE) == []
    (again,) = await store.claim("jira", 10, later, LEASE)
    await store.dead_letter(again, later, "HTTP 400: bad field", '{"errors": {"x": "bad"}}')

    (dead,) = await store.dead_letters()
    assert (dead.sink, dead.action, dead.attempts) == ("jira", "create", 2)
    assert dead.response == '{"errors": {"x": "bad"}}' and dead.last_error.startswith("HTTP 400")
    assert dead.given_up_at == later
    (next_claim,) = await store.claim("jira", 10, later, LEASE)
    assert next_claim.head.idempotency_key == "1:comment"


async def test_retrying_a_dead_letter_puts_it_back_with_attempts_reset(db: Database) -> None:
    store = OutboxStore(db, owner="a")
    await queue(db, 1, "jira", OutboxAction.CREATE, "1:create", now=T0)
    (claim,) = await store.claim("jira", 10, T0, LEASE)
    await store.dead_letter(claim, T0, "HTTP 400", "no")
    later = T0 + timedelta(hours=1)
    assert await store.retry_dead(claim.head.id, later, None)
    assert not await store.retry_dead(claim.head.id, later, None)  # no longer dead
    assert await store.dead_letters() == []
    (again,) = await store.claim("jira", 10, later, LEASE)
    assert again.head.attempts == 1 and again.head.created_at == later


async def test_fallback_hand_over_is_durable_and_once(db: Database) -> None:
    store = OutboxStore(db, owner="a")
    await queue(db, 1, "jira", OutboxAction.CREATE, "1:create", now=T0)
    (claim,) = await store.claim("jira", 10, T0, LEASE)
    await store.hand_over(claim, "mail", T0)
    await store.hand_over(claim, "mail", T0)
    await store.dead_letter(claim, T0, "HTTP 400", "no", fallback="mail")
    (handed,) = await store.claim("mail", 10, T0, LEASE)
    assert handed.head.action is OutboxAction.CREATE and handed.head.incident_id == 1
    assert handed.head.idempotency_key == "1:create:fallback:mail"


async def test_tickets_and_sent_messages_are_recorded_once(db: Database) -> None:
    store = OutboxStore(db, owner="a")
    await store.remember_ticket(7, "jira", TicketRef("OPS-1", "http://j/OPS-1"), T0)
    await store.remember_ticket(7, "jira", TicketRef("OPS-2", "http://j/OPS-2"), T0)
    assert await store.ticket(7, "jira") == TicketRef("OPS-1", "http://j/OPS-1")
    assert await store.ticket(7, "mail") is None
    await store.remember_messages(7, ["<a@gw>", "<b@gw>"], T0)
    await store.remember_messages(7, ["<a@gw>"], T0)
    threads = await models.MailThread.filter(incident_id=7).order_by("message_id")
    # kept as the email parser reads In-Reply-To and References: without angle brackets
    assert [(t.message_id, t.direction) for t in threads] == [("a@gw", "out"), ("b@gw", "out")]


async def test_depth_counts_pending_and_dead_per_sink(db: Database) -> None:
    store = OutboxStore(db, owner="a")
    await queue(db, 1, "jira", OutboxAction.CREATE, "1:create", now=T0)
    await queue(db, 2, "jira", OutboxAction.CREATE, "2:create", now=T0)
    (claim, _) = await store.claim("jira", 10, T0, LEASE)
    await store.dead_letter(claim, T0, "HTTP 400", "no")
    depth = await store.depth()
    assert depth["jira"].pending == 1 and depth["jira"].dead == 1
    assert depth["jira"].oldest_pending == T0


async def test_start_releases_the_leases_of_a_dead_predecessor(db: Database) -> None:
    await queue(db, 1, "jira", OutboxAction.CREATE, "1:create", now=T0)
    await queue(db, 2, "jira", OutboxAction.CREATE, "2:create", now=T0)
    await OutboxStore(db, owner="a").claim("jira", 1, T0, LEASE)
    await OutboxStore(db, owner="b").claim("jira", 1, T0, LEASE)
    restarted = OutboxStore(db, owner="a")  # the same instance name, a new process
    released = await restarted.release_all_leases()
    claimed = await restarted.claim("jira", 10, T0, LEASE)
    if db.dialect.value == "sqlite":
        assert released == 2 and len(claimed) == 2  # one process per file: all were dead
    else:  # b may be alive: its lease stands until it expires
        assert released == 1 and [c.head.incident_id for c in claimed] == [1]
        assert claimed[0].head.attempts == 2  # uncertain: a create is looked up first
