from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from canhgac.core.notify_config import RotationConfig, TimeWindow
from canhgac.pipeline.notify import NotifyConfig
from canhgac.pipeline.notify.routing import on_call, resolve_targets, select_routes

from tests.unit.notify.support import START, config_dict, make_alert

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def _config() -> NotifyConfig:
    return NotifyConfig.model_validate(
        config_dict(
            routes=[
                {
                    "name": "critical-all",
                    "match": {"min_severity": "critical"},
                    "channels": ["tg-lead"],
                    "continue_matching": True,
                },
                {
                    "name": "creds-office-hours",
                    "match": {
                        "tags_any": ["attack.credential_access"],
                        "time_of_day": {"start": "08:00", "end": "17:00", "weekdays": [0, 1, 2, 3, 4]},
                    },
                    "channels": ["tg-an"],
                },
                {
                    "name": "portal",
                    "match": {"agencies": ["so-tttt"], "source_ids": ["cong-dvc"]},
                    "channels": ["hook-siem"],
                },
                {
                    "name": "rule",
                    "match": {"rule_ids": ["win-mimikatz"], "min_severity": "medium"},
                    "channels": ["tg-binh"],
                },
                {"name": "catch-all", "channels": ["email-soc"]},
            ]
        )
    )


def _names(alert, when: datetime = START) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.name for r in select_routes(_config(), alert, when)]


def test_first_match_wins_unless_continue() -> None:
    # 14:00 Thursday local: office hours.
    assert _names(make_alert()) == ["creds-office-hours"]
    assert _names(make_alert(severity="critical")) == ["critical-all", "creds-office-hours"]


def test_time_of_day_is_local_time() -> None:
    evening = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)  # 17:30 in Hà Nội, 10:30 UTC
    assert _names(make_alert(), evening) == ["catch-all"]
    saturday = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 10:00 Saturday local
    assert _names(make_alert(), saturday) == ["catch-all"]


def test_agency_source_rule_and_severity_conditions() -> None:
    assert _names(make_alert(tags=[], source_id="cong-dvc")) == ["portal"]
    assert _names(make_alert(tags=[], source_id="cong-dvc", agency="so-yte")) == ["catch-all"]
    assert _names(make_alert(tags=[], rule_id="win-mimikatz", severity="medium")) == ["rule"]
    assert _names(make_alert(tags=[], rule_id="win-mimikatz", severity="low")) == ["catch-all"]


def test_tags_match_case_insensitively() -> None:
    assert _names(make_alert(tags=["ATTACK.Credential_Access"])) == ["creds-office-hours"]


def test_window_across_midnight_belongs_to_its_start_day() -> None:
    night = TimeWindow(start="22:00", end="06:00", weekdays=(4,))  # Friday night only
    assert night.contains(datetime(2026, 11, 27, 23, 0, tzinfo=HCM))  # Fri 23:00
    assert night.contains(datetime(2026, 11, 28, 5, 59, tzinfo=HCM))  # Sat 05:59
    assert not night.contains(datetime(2026, 11, 28, 6, 0, tzinfo=HCM))
    assert not night.contains(datetime(2026, 11, 26, 23, 0, tzinfo=HCM))  # Thursday night


def test_weekly_rotation_with_handoff_and_date_override() -> None:
    rota = RotationConfig.model_validate(
        {
            "start_date": "2026-11-23",
            "handoff_time": "08:00",
            "members": [{"name": "an", "channels": ["tg-an"]}, {"name": "binh", "channels": ["tg-binh"]}],
            "overrides": [{"date": "2026-12-03", "member": "an"}],
        }
    )
    monday_8 = datetime(2026, 11, 30, 8, 0, tzinfo=HCM)
    assert on_call(rota, datetime(2026, 11, 23, 8, 0, tzinfo=HCM), HCM) == "an"
    assert on_call(rota, monday_8 - timedelta(minutes=1), HCM) == "an"
    assert on_call(rota, monday_8, HCM) == "binh"
    assert on_call(rota, datetime(2026, 12, 3, 12, 0, tzinfo=HCM), HCM) == "an"  # override
    assert on_call(rota, datetime(2026, 12, 4, 12, 0, tzinfo=HCM), HCM) == "binh"
    assert on_call(rota, datetime(2026, 12, 7, 9, 0, tzinfo=HCM), HCM) == "an"
    assert rota.overrides[0].date == date(2026, 12, 3)


def test_targets_merge_channels_and_on_call_member() -> None:
    config = NotifyConfig.model_validate(
        config_dict(
            rotations={
                "soc": {
                    "start_date": "2026-11-23",
                    "members": [
                        {"name": "an", "channels": ["tg-an", "email-soc"]},
                        {"name": "binh", "channels": ["tg-binh"]},
                    ],
                }
            }
        )
    )
    assert resolve_targets(config, ("email-soc",), "soc", START) == ["email-soc", "tg-an"]
