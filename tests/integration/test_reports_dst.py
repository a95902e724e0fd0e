"""Reports through the HTTP listener on both engines, on a fixture that crosses the
daylight-saving changes of 2026 in Europe/Berlin (and a weekend and a reopen), against
figures computed by hand.

  2026-03-29 (Sunday): 02:00 CET (UTC+1) -> 03:00 CEST (UTC+2), a 23-hour day
  2026-10-25 (Sunday): 03:00 CEST (UTC+2) -> 02:00 CET (UTC+1), a 25-hour day

Office calendar: Europe/Berlin, Monday to Friday 09:00-17:00 local time. Targets: P1
24x7 response 15m, resolution 4h; P3 office response 4h, resolution 16h. Times below
are local, then UTC.

  H P3 payroll  Fri 10-23 16:00 CEST (14:00Z), ack Mon 10-26 10:00 CET (09:00Z),
                resolved 11:00 CET, reopened 12:00 CET (11:00Z), resolved 15:00 CET (14:00Z)
    ack     service: Fri 16-17 (1h) + Mon 09-10 (1h) = 2h = 7200
            calendar: 14:00Z Fri -> 09:00Z Mon = 72h - 5h = 67h = 241200
    resolve service: Fri 1h + Mon 09-15 (6h) = 7h = 25200; calendar 72h = 259200
    due     set again at the reopen (Mon 12:00 CET): response +4h office = Mon 16:00 CET
            (15:00Z); resolution +16h = Mon 5h + Tue 8h + Wed 3h = Wed 10-28 12:00 CET
            (11:00Z). Neither breached.
  J P3 payroll  Fri 03-27 16:00 CET (15:00Z), ack Mon 03-30 14:00 CEST (12:00Z),
                resolved Tue 03-31 17:00 CEST (15:00Z)
    ack     service: Fri 1h + Mon 09-14 (5h) = 6h = 21600; calendar 15:00Z -> 12:00Z
            three days on = 69h = 248400
    resolve service: Fri 1h + Mon 8h + Tue 8h = 17h = 61200; calendar 96h = 345600
    due     response: Fri 1h + Mon 3h -> Mon 12:00 CEST (10:00Z): 2h over (12-14 local,
            7200 service, 7200 calendar); resolution: Fri 1h + Mon 8h + Tue 7h ->
            Tue 16:00 CEST (14:00Z): 1h over (3600 both)
  K P1 web      Sat 10-24 12:00 CEST (10:00Z), ack 12:10 CEST (600),
                resolved Sun 10-25 12:00 CET (11:00Z): 25 real hours = 90000
    due     response 10:15Z; resolution 14:00Z: 21h over = 75600 (24x7: both the same)
  L P1 web      Sat 03-28 12:00 CET (11:00Z), ack 12:05 CET (300),
                resolved Sun 03-29 12:00 CEST (10:00Z): 23 real hours = 82800
    due     response 11:15Z; resolution 15:00Z: 19h over = 68400

An office counted in UTC would give H 2h + 2h, a 24x7 counted in local hours 24h each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conftest import ConfigWriter
from tests.integration.daemon import running_daemon
from tests.integration.test_reports import _by, _report, load_incidents

BERLIN_RULES = """
calendars:
  - name: office
    timezone: Europe/Berlin
    hours:
      mon-fri: "09:00-17:00"
sla:
  targets:
    - {priority: P1, calendar: 24x7, response: 15m, resolution: 4h}
    - {priority: P3, calendar: office, response: 4h, resolution: 16h}
"""
PERIOD = "from=2026-03-01&to=2026-11-01"


def _z(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


FIXTURE: list[dict[str, Any]] = [
    dict(key="H", priority="P3", service="payroll", created_at=_z(10, 23, 14),
         acknowledged_at=_z(10, 26, 9), resolved_at=_z(10, 26, 14),
         response_due=_z(10, 26, 15), resolution_due=_z(10, 28, 11)),
    dict(key="J", priority="P3", service="payroll", created_at=_z(3, 27, 15),
         acknowledged_at=_z(3, 30, 12), resolved_at=_z(3, 31, 15),
         response_due=_z(3, 30, 10), resolution_due=_z(3, 31, 14)),
    dict(key="K", priority="P1", service="web", created_at=_z(10, 24, 10),
         acknowledged_at=_z(10, 24, 10, 10), resolved_at=_z(10, 25, 11),
         response_due=_z(10, 24, 10, 15), resolution_due=_z(10, 24, 14)),
    dict(key="L", priority="P1", service="web", created_at=_z(3, 28, 11),
         acknowledged_at=_z(3, 28, 11, 5), resolved_at=_z(3, 29, 10),
         response_due=_z(3, 28, 11, 15), resolution_due=_z(3, 28, 15)),
]  # fmt: skip


async def _load_fixture() -> None:
    await load_incidents(FIXTURE, 800001, {"H": _z(10, 26, 11)})


async def test_reports_count_office_hours_in_local_time_across_clock_changes(
    write_config: ConfigWriter, database_url: str, tmp_path: Path
) -> None:
    config = write_config(database_url)
    (tmp_path / "rules" / "00-sla.yaml").write_text(BERLIN_RULES)
    async with running_daemon(config) as daemon:
        await _load_fixture()
        mttr = await _report(daemon, "mttr", PERIOD)
        ack, resolve = _by(mttr["acknowledge"]), _by(mttr["resolve"])
        # acknowledge, service: 300 (L), 600 (K), 7200 (H), 21600 (J): median the 2nd,
        # p90 the 4th; calendar: 300, 600, 241200, 248400, mean 490500 / 4
        assert ack["all"]["service"] == {"count": 4, "median": 600.0, "p90": 21600.0}
        assert ack["all"]["calendar"] == {"mean": 122625.0, "median": 600.0, "p90": 248400.0}
        assert ack["P3"]["service"] == {"count": 2, "median": 7200.0, "p90": 21600.0}
        assert ack["P3"]["calendar"]["median"] == 241200.0
        # resolve, service: 25200 (H), 61200 (J), 82800 (L), 90000 (K);
        # calendar: 82800, 90000, 259200, 345600, mean 777600 / 4
        assert resolve["all"]["service"] == {"count": 4, "median": 61200.0, "p90": 90000.0}
        assert resolve["all"]["calendar"] == {"mean": 194400.0, "median": 90000.0, "p90": 345600.0}
        # 24x7 across a change: 23 and 25 real hours, in service time as on the wall clock
        assert resolve["P1"]["service"] == {"count": 2, "median": 82800.0, "p90": 90000.0}
        assert resolve["P1"]["calendar"]["median"] == 82800.0
        assert resolve["P3"]["service"] == {"count": 2, "median": 25200.0, "p90": 61200.0}

        sla = await _report(daemon, "sla", PERIOD)
        groups = {(row["priority"], row["service"]): row for row in sla["groups"]}
        web, payroll = groups[("P1", "web")], groups[("P3", "payroll")]
        assert (web["response_measured"], web["response_breached"]) == (2, 0)
        assert (web["resolution_measured"], web["resolution_breached"]) == (2, 2)
        assert (payroll["response_measured"], payroll["response_breached"]) == (2, 1)
        assert (payroll["resolution_measured"], payroll["resolution_breached"]) == (2, 1)
        assert payroll["response_compliance"] == 50.0 and web["resolution_compliance"] == 0.0
        over = {
            (row["title"], row["clock"]): (row["over_seconds"], row["over_service_seconds"])
            for row in sla["breaches"]
        }
        assert over == {
            ("incident J", "response"): (7200.0, 7200.0),  # Mon 12:00-14:00 CEST
            ("incident J", "resolution"): (3600.0, 3600.0),  # Tue 16:00-17:00 CEST
            ("incident K", "resolution"): (75600.0, 75600.0),  # 14:00Z Sat -> 11:00Z Sun
            ("incident L", "resolution"): (68400.0, 68400.0),  # 15:00Z Sat -> 10:00Z Sun
        }

        summary = await _report(daemon, "summary", PERIOD)
        assert summary["incidents"] == 4 and summary["reopened"] == 1
        assert summary["reopen_rate"] == 25.0 and summary["breaches"] == 4
