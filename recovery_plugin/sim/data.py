"""The simulated service's own sample dataset (fictional candidates, parties and pollsters).

Matchup ids follow the real service's form ``YYYYMMDD|office type|region code``. The dataset is
small on purpose: six matchups covering a metropolitan race (the default Seoul mayor id), a
district race, two scenarios in one poll, an undecided option without a candidate id, an unknown
audience scope, and an id containing a space and ``+`` (to exercise URL encoding).

``build_ingest_payload()`` produces the ingest job input; ``sample_ingest.json`` (package data,
``SAMPLE_INGEST_PATH``) is the same payload written to disk and is checked against it by the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recovery_plugin.records import dataclass

__all__ = [
    "DEFAULT_MATCHUP_ID",
    "MATCHUP_IDS",
    "SAMPLE_INGEST_PATH",
    "SAMPLE_MATCHUPS",
    "SampleMatchup",
    "SampleOption",
    "SampleScenario",
    "build_ingest_payload",
]

SAMPLE_INGEST_PATH: Path = Path(__file__).resolve().with_name("sample_ingest.json")
"""The shipped ingest input file (package data); equal to ``build_ingest_payload()``."""

DEFAULT_MATCHUP_ID = "20260603|광역자치단체장|11-000"


@dataclass(frozen=True)
class SampleOption:
    """One option of a scenario: a candidate (or a party) and its share."""

    name: str
    candidate_id: str | None
    party: str | None
    value: float


@dataclass(frozen=True)
class SampleScenario:
    """One scenario of a matchup (its options), as the ingest input lists it."""

    key: str
    scenario_type: str
    title: str
    options: tuple[SampleOption, ...]


@dataclass(frozen=True)
class SampleMatchup:
    matchup_id: str
    title: str
    article_title: str
    publisher: str
    article_published_at: str
    observation_key: str
    pollster: str
    survey_start_date: str
    survey_end_date: str
    sample_size: int
    response_rate: float | None
    margin_of_error: float | None
    source_grade: str
    audience_scope: str | None
    scenarios: tuple[SampleScenario, ...]

    @property
    def office_type(self) -> str:
        return self.matchup_id.split("|")[1]

    @property
    def region_code(self) -> str:
        return self.matchup_id.split("|")[2]


def _opt(name: str, candidate_id: str | None, party: str | None, value: float) -> SampleOption:
    return SampleOption(name=name, candidate_id=candidate_id, party=party, value=value)


def _h2h(*options: SampleOption, key: str = "default") -> SampleScenario:
    named = [o.name for o in options if o.candidate_id is not None]
    return SampleScenario(key, "head_to_head", " vs ".join(named), tuple(options))


def _multi(title: str, *options: SampleOption, key: str = "default") -> SampleScenario:
    return SampleScenario(key, "multi_candidate", title, tuple(options))


_UNDECIDED = "없음/모름"

SAMPLE_MATCHUPS: tuple[SampleMatchup, ...] = (
    SampleMatchup(
        matchup_id=DEFAULT_MATCHUP_ID,
        title="서울시장",
        article_title="지방선거 D-100 서울시장 가상대결",
        publisher="가상일보",
        article_published_at="2026-02-24T09:10:00Z",
        observation_key="obs-20260222-seoul-hanbit",
        pollster="한빛리서치",
        survey_start_date="2026-02-21",
        survey_end_date="2026-02-22",
        sample_size=1004,
        response_rate=11.8,
        margin_of_error=3.1,
        source_grade="B",
        audience_scope="regional",
        scenarios=(
            _h2h(
                _opt("윤하람", "cand-yhr", "새빛당", 41.2),
                _opt("백도현", "cand-bdh", "한울당", 37.5),
                _opt(_UNDECIDED, None, None, 21.3),
            ),
        ),
    ),
    SampleMatchup(
        matchup_id="20260603|광역자치단체장|26-000",
        title="부산시장",
        article_title="부산시장 적합도 조사",
        publisher="남해신문",
        article_published_at="2026-02-20T02:00:00Z",
        observation_key="obs-20260219-busan-korea",
        pollster="코리아여론연구소",
        survey_start_date="2026-02-18",
        survey_end_date="2026-02-19",
        sample_size=806,
        response_rate=9.4,
        margin_of_error=3.5,
        source_grade="B",
        audience_scope="regional",
        scenarios=(
            _h2h(
                _opt("서은채", "cand-sec", "한울당", 44.0),
                _opt("문태오", "cand-mto", "새빛당", 39.1),
            ),
        ),
    ),
    SampleMatchup(
        matchup_id="20260603|광역자치단체장|41-000",
        title="경기도지사",
        article_title="경기도지사 다자대결 여론조사",
        publisher="수도권타임즈",
        article_published_at="2026-02-26T06:30:00Z",
        observation_key="obs-20260225-gyeonggi-mirae",
        pollster="미래조사연구원",
        survey_start_date="2026-02-24",
        survey_end_date="2026-02-25",
        sample_size=1510,
        response_rate=13.2,
        margin_of_error=2.5,
        source_grade="A",
        audience_scope="regional",
        scenarios=(
            _multi(
                "경기도지사 다자대결",
                _opt("장가온", "cand-jgo", "새빛당", 33.3),
                _opt("오세린", "cand-osr", "한울당", 30.8),
                _opt("권도율", "cand-kdy", "푸른내일당", 12.4),
            ),
        ),
    ),
    SampleMatchup(
        matchup_id="20260603|기초자치단체장|11-110",
        title="서울 종로구청장",
        article_title="종로구청장 후보 지지도",
        publisher="가상일보",
        article_published_at="2026-02-27T01:15:00Z",
        observation_key="obs-20260226-jongno-hanbit",
        pollster="한빛리서치",
        survey_start_date="2026-02-25",
        survey_end_date="2026-02-26",
        sample_size=503,
        response_rate=8.7,
        margin_of_error=4.4,
        source_grade="C",
        audience_scope="local",
        scenarios=(
            _h2h(
                _opt("남궁다온", "cand-ngdo", "한울당", 38.9),
                _opt("변시우", "cand-bsw", "새빛당", 36.2),
            ),
        ),
    ),
    SampleMatchup(
        matchup_id="20260603|기초자치단체장|26-350",
        title="부산 해운대구청장",
        article_title="해운대구청장 가상대결·다자대결",
        publisher="남해신문",
        article_published_at="2026-02-25T08:45:00Z",
        observation_key="obs-20260224-haeundae-korea",
        pollster="코리아여론연구소",
        survey_start_date="2026-02-23",
        survey_end_date="2026-02-24",
        sample_size=500,
        response_rate=7.9,
        margin_of_error=4.4,
        source_grade="B",
        audience_scope="local",
        scenarios=(
            _h2h(
                _opt("차은결", "cand-ceg", "새빛당", 42.7),
                _opt("임하늘", "cand-ihn", "한울당", 40.2),
            ),
            _multi(
                "해운대구청장 다자대결",
                _opt("차은결", "cand-ceg", "새빛당", 35.0),
                _opt("임하늘", "cand-ihn", "한울당", 31.6),
                _opt("도서진", "cand-dsj", "푸른내일당", 11.9),
                key="multi",
            ),
        ),
    ),
    SampleMatchup(
        matchup_id="20260603|국회의원 재보궐|41-135+41-137",
        title="성남 분당 갑·을 재보궐",
        article_title="분당 재보궐 민심은",
        publisher="수도권타임즈",
        article_published_at="2026-02-28T11:00:00Z",
        observation_key="obs-20260227-bundang-mirae",
        pollster="미래조사연구원",
        survey_start_date="2026-02-26",
        survey_end_date="2026-02-27",
        sample_size=600,
        response_rate=None,
        margin_of_error=None,
        source_grade="C",
        audience_scope=None,
        scenarios=(
            _h2h(
                _opt("하윤슬", "cand-hys", "푸른내일당", 29.5),
                _opt("구태민", "cand-gtm", "한울당", 28.8),
                _opt(_UNDECIDED, None, None, 41.7),
            ),
        ),
    ),
)

MATCHUP_IDS: tuple[str, ...] = tuple(m.matchup_id for m in SAMPLE_MATCHUPS)


def _value_raw(value: float) -> str:
    text = f"{value:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _record(matchup: SampleMatchup) -> dict[str, Any]:
    return {
        "observation_key": matchup.observation_key,
        "article": {
            "title": matchup.article_title,
            "publisher": matchup.publisher,
            "published_at": matchup.article_published_at,
        },
        "observation": {
            "matchup_id": matchup.matchup_id,
            "region_code": matchup.region_code,
            "office_type": matchup.office_type,
            "title": matchup.title,
            "pollster": matchup.pollster,
            "survey_start_date": matchup.survey_start_date,
            "survey_end_date": matchup.survey_end_date,
            "sample_size": matchup.sample_size,
            "response_rate": matchup.response_rate,
            "margin_of_error": matchup.margin_of_error,
            "source_grade": matchup.source_grade,
            "audience_scope": matchup.audience_scope,
        },
        "scenarios": [
            {
                "scenario_key": scenario.key,
                "scenario_type": scenario.scenario_type,
                "scenario_title": scenario.title,
                "options": [
                    {
                        "option_name": option.name,
                        "candidate_id": option.candidate_id,
                        "party_name": option.party,
                        "value_raw": _value_raw(option.value),
                        "value_mid": option.value,
                    }
                    for option in scenario.options
                ],
            }
            for scenario in matchup.scenarios
        ],
    }


def build_ingest_payload(matchup_ids: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The ingest job input for all sample matchups, or only for ``matchup_ids`` (in dataset order).

    Raises ``KeyError`` naming an id that is not in the dataset.
    """
    wanted = MATCHUP_IDS if matchup_ids is None else matchup_ids
    unknown = [mid for mid in wanted if mid not in MATCHUP_IDS]
    if unknown:
        raise KeyError(f"not a sample matchup id: {unknown[0]!r}")
    return {
        "source": "recovery_plugin.sim sample dataset",
        "run_type": "manual",
        "records": [_record(m) for m in SAMPLE_MATCHUPS if m.matchup_id in wanted],
    }
