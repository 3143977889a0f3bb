"""What "nothing lost, nothing twice" means, checked from the outside: the APIs, the topics, the SMTP sink."""

import asyncio
import email.parser
import email.policy
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.faults.workload import Submission, staff_headers
from visitdesk import SERVICES
from visitdesk.cluster import Cluster

COMMUNICATIONS = "communications@visitdesk.invalid"
PROTOCOL_OFFICE = "protocol@visitdesk.invalid"
TOPICS = ("visits.v1", "capacity.v1", "protocol.v1", "notifications.v1")
BACKLOG = re.compile(r'^visitdesk_outbox_backlog\{service="([^"]+)"\} (\S+)$', re.M)
LAG = re.compile(r"^visitdesk_consumer_lag\{([^}]*)\} (\S+)$", re.M)


@dataclass
class Verdict:
    """`pending`: not there yet (may still come); `violations`: wrong for good (twice, out of order, dead-lettered)."""

    pending: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    mails: int = 0
    mail_copies: int = 0  # the same Message-ID delivered more than once (a resend after a crash)
    resent: list[str] = field(default_factory=list)  # which: kept apart, as a crash may excuse them
    redelivered_events: int = 0  # the same event id more than once on visits.v1 (the relay's at-least-once)

    @property
    def passed(self) -> bool:
        """Everything there once; resent e-mails (same Message-ID) are judged by the caller."""
        return not self.pending and not self.violations and not self.lost and not self.duplicated


def expected_mails(s: Submission) -> Counter:
    """Recipient address -> e-mails about this request (the rules of services/notifications/domain.py)."""
    mails = Counter({s.contact_email: 1, f"{s.division}@visitdesk.invalid": 1})  # submitted; routed by rule
    if s.accepted:
        mails[s.contact_email] += 1  # visit.accepted -> delegation
        mails[f"{s.division}@visitdesk.invalid"] += 1  # visit.accepted -> division
        mails[PROTOCOL_OFFICE] += 1  # protocol.plan_created -> protocol office
        if s.prominent:
            mails[COMMUNICATIONS] += 1  # visit.accepted of a high-level or press visit -> communications
    return mails


def expected_visit_events(s: Submission) -> list[str]:
    return ["visit.submitted.v1", "visit.routed.v1"] + (["visit.accepted.v1"] if s.accepted else [])


def iso_week(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


class MailBox:
    """Reads the sink's .eml headers once per file: (reference, envelope recipient, Message-ID, arrival ns)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.seen: dict[str, tuple[str | None, list[str], str | None, int]] = {}
        self.parser = email.parser.BytesHeaderParser(policy=email.policy.default)

    def scan(self) -> list[tuple[str | None, list[str], str | None, int]]:
        for path in sorted(self.directory.glob("*.eml")) if self.directory.exists() else []:
            if path.name not in self.seen:
                headers = self.parser.parsebytes(path.read_bytes())
                recipients = [r.strip().lower() for r in str(headers["X-Mailsink-Envelope-To"] or "").split(",")]
                self.seen[path.name] = (
                    headers["X-Visitdesk-Reference"],
                    recipients,
                    headers["Message-ID"],
                    int(path.name.split("-", 1)[0]),
                )
        return list(self.seen.values())

    def by_reference(self) -> dict[str, list[tuple[list[str], str | None, int]]]:
        found = defaultdict(list)
        for reference, recipients, message_id, arrived in self.scan():
            if reference:
                found[str(reference)].append((recipients, message_id, arrived))
        return found


async def read_topics(bootstrap: str, topics: list[str], timeout: float = 30) -> dict[str, list]:
    """Every record of `topics`, from the beginning to the current end, in partition order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, request_timeout_ms=10000
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            cluster = await consumer._client.fetch_all_metadata()
            partitions = [TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())]
            if not partitions:
                return {t: [] for t in topics}
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            records: dict[str, list] = {t: [] for t in topics}
            left = {tp for tp in partitions if end[tp] > 0}
            while left:
                for tp, batch in (await consumer.getmany(*left, timeout_ms=500)).items():
                    records[tp.topic] += [r for r in batch if r.offset < end[tp]]
                    if batch and batch[-1].offset + 1 >= end[tp]:
                        left.discard(tp)
            return records
    finally:
        await consumer.stop()


class Checker:
    """Checks a batch of submissions against every service; cheap checks first, the topics last."""

    def __init__(self, cluster: Cluster, bootstrap: str):
        self.cluster, self.bootstrap = cluster, bootstrap
        self.mailbox = MailBox(cluster.mail_dir)
        self.admin = staff_headers("admin")

    async def verify(self, batch: list[Submission]) -> Verdict:
        verdict = Verdict()
        async with httpx.AsyncClient(timeout=10) as http:
            steps = (
                self._stored_once,
                self._final_states,
                self._outboxes_drained,
                self._deliveries_settled,
                self._mails,
                self._capacity_held,
            )
            for step in steps:
                await step(http, batch, verdict)
                if verdict.pending:
                    return verdict
        await self._topics(batch, verdict)
        return verdict

    async def _stored_once(self, http: httpx.AsyncClient, batch: list[Submission], verdict: Verdict) -> None:
        """Every acknowledged submission is stored once; no submission (acknowledged or not) is stored twice."""
        rows = await self._all_requests(http)
        for s in batch:
            stored = rows.get(s.marker, [])
            if s.reference and s.reference not in stored:
                verdict.lost += 1
                verdict.violations.append(f"{s.reference} ({s.marker}) was acknowledged but is not stored")
            if len(stored) > 1:
                verdict.duplicated += 1
                verdict.violations.append(
                    f"{s.marker} is stored {len(stored)} times: {', '.join(stored)} "
                    f"(acknowledged as {s.reference}; retried after: {'; '.join(s.retried)})"
                )

    async def _all_requests(self, http: httpx.AsyncClient) -> dict[str, list[str]]:
        rows, cursor = defaultdict(list), None
        while True:
            params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
            page = await _json(
                http.get(f"{self.cluster.url('visits')}/api/v1/requests", params=params, headers=self.admin)
            )
            for item in page["items"]:
                rows[item["organisation"]].append(item["reference"])
            cursor = page["next_cursor"]
            if not cursor:
                return rows

    async def _final_states(self, http: httpx.AsyncClient, batch: list[Submission], verdict: Verdict) -> None:
        base = self.cluster.url("visits")
        for s in [s for s in batch if s.reference]:
            visit = await _json(http.get(f"{base}/api/v1/requests/{s.reference}", headers=self.admin))
            wanted = "accepted" if s.accepted else "routed"
            if visit["status"] != wanted:
                verdict.violations.append(f"{s.reference} is {visit['status']}, expected {wanted}")

    async def _outboxes_drained(self, http: httpx.AsyncClient, batch: list[Submission], verdict: Verdict) -> None:
        for service in SERVICES:
            backlog = dict(BACKLOG.findall(await _text(http.get(f"{self.cluster.url(service)}/metrics"))))
            if float(backlog.get(service, "nan")) != 0:
                verdict.pending.append(f"{service} outbox backlog {backlog.get(service, 'not reported yet')}")

    async def _deliveries_settled(self, http: httpx.AsyncClient, batch: list[Submission], verdict: Verdict) -> None:
        base = f"{self.cluster.url('notifications')}/api/v1/deliveries"
        pending = await _json(http.get(base, params={"status": "pending", "limit": 500}, headers=self.admin))
        if pending:
            verdict.pending.append(f"{len(pending)} deliveries pending")
        failed = await _json(http.get(base, params={"status": "failed", "limit": 500}, headers=self.admin))
        for delivery in failed:
            verdict.violations.append(
                f"delivery {delivery['id']} ({delivery['event_type']} -> "
                f"{delivery['recipient_kind']}) failed: {delivery['last_error']}"
            )

    async def _mails(self, http: httpx.AsyncClient, batch: list[Submission], verdict: Verdict) -> None:
        """Each required e-mail arrived, once: counted by distinct Message-ID per reference and recipient."""
        arrived = self.mailbox.by_reference()
        for s in [s for s in batch if s.reference]:
            ids, copies = defaultdict(set), Counter()
            for recipients, message_id, _ in arrived.get(s.reference, []):
                for recipient in recipients:
                    ids[recipient].add(message_id)
                    copies[(recipient, message_id)] += 1
            for recipient, count in expected_mails(s).items():
                got = len(ids.pop(recipient, ()))
                verdict.mails += min(got, count)
                if got < count:
                    verdict.pending.append(f"{s.reference}: {got}/{count} e-mails to {recipient}")
                elif got > count:
                    verdict.violations.append(
                        f"{s.reference}: {got} different e-mails to {recipient}, expected {count}"
                    )
            for recipient, message_ids in ids.items():
                verdict.violations.append(f"{s.reference}: {len(message_ids)} unexpected e-mails to {recipient}")
            for (recipient, message_id), count in copies.items():
                if count > 1:
                    verdict.mail_copies += count - 1
                    verdict.resent.append(f"{s.reference}: e-mail {message_id} to {recipient} arrived {count} times")

    async def _capacity_held(self, http: httpx.AsyncClient, batch: list[Submission], verdict: Verdict) -> None:
        """Each accepted visit holds its week in the capacity service exactly once."""
        weeks = defaultdict(list)
        for s in [s for s in batch if s.accepted]:
            weeks[(s.division, iso_week(s.visit_date))].append(s.reference)
        for (division, week), references in weeks.items():
            held = await _json(
                http.get(f"{self.cluster.url('capacity')}/api/v1/capacity/{division}/{week}", headers=self.admin)
            )
            holders = Counter(r["reference"] for r in held["requests"])
            for reference in references:
                if holders[reference] == 0:
                    verdict.pending.append(f"{reference}: no reservation in {division} {week}")
                elif holders[reference] > 1:
                    verdict.violations.append(f"{reference}: {holders[reference]} reservations in {division} {week}")

    async def _topics(self, batch: list[Submission], verdict: Verdict) -> None:
        """Events in order and once per change on visits.v1; one reservation and one plan each; DLQs empty."""
        names = [self.cluster.topic(t) for t in TOPICS]
        dlqs = [f"{name}.dlq" for name in names]
        records = await read_topics(self.bootstrap, names[:3] + dlqs)
        for dlq in dlqs:
            if records[dlq]:
                heads = "; ".join(dict(r.headers).get("dlq.error", b"?").decode()[:200] for r in records[dlq][:3])
                verdict.violations.append(f"{dlq} holds {len(records[dlq])} messages: {heads}")
        visits = _by_reference(records[names[0]])
        verdict.redelivered_events += sum(
            len(events) - len({e["id"] for e in events})
            for reference, events in visits.items()
            if reference in {s.reference for s in batch}
        )
        reserved = Counter(ref for ref, e in _events(records[names[1]]) if e["type"] == "capacity.reserved.v1")
        plans = Counter(ref for ref, e in _events(records[names[2]]) if e["type"] == "protocol.plan_created.v1")
        for s in [s for s in batch if s.reference]:
            self._visit_events_in_order(s, visits.get(s.reference, []), verdict)
            if s.accepted and reserved[s.reference] != 1:
                verdict.violations.append(f"{s.reference}: {reserved[s.reference]} capacity.reserved events")
            if s.accepted and plans[s.reference] != 1:
                verdict.violations.append(f"{s.reference}: {plans[s.reference]} protocol.plan_created events")

    @staticmethod
    def _visit_events_in_order(s: Submission, events: list[dict], verdict: Verdict) -> None:
        seen, types = set(), []
        for event in events:  # first appearance of each event id, in partition order
            if event["id"] not in seen:
                seen.add(event["id"])
                types.append(event["type"])
        wanted = expected_visit_events(s)
        if types != wanted:
            problem = verdict.pending if types == wanted[: len(types)] else verdict.violations
            problem.append(f"{s.reference}: visits.v1 has {types}, expected {wanted}")


def _events(records: list) -> list[tuple[str | None, dict]]:
    """(reference, envelope) of each decodable record; distinct event ids only."""
    seen, out = set(), []
    for record in records:
        envelope = json.loads(record.value)
        if envelope["id"] not in seen:
            seen.add(envelope["id"])
            out.append((envelope.get("data", {}).get("reference"), envelope))
    return out


def _by_reference(records: list) -> dict[str, list[dict]]:
    """Envelopes per request reference, keeping redeliveries (same id) so they can be counted."""
    found = defaultdict(list)
    for record in records:
        envelope = json.loads(record.value)
        found[envelope.get("data", {}).get("reference")].append(envelope)
    return found


async def _json(request):
    response = await request
    response.raise_for_status()
    return response.json()


async def _text(request) -> str:
    response = await request
    response.raise_for_status()
    return response.text


def consumer_lags(metrics_text: str, service: str) -> int:
    """The sum over partitions of what `service`'s consumer has yet to handle."""
    return int(sum(float(value) for labels, value in LAG.findall(metrics_text) if f'service="{service}"' in labels))
