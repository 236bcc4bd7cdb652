"""The model registry: every trained version kept in the database; one active at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from scoring.model import LeadScorer
from storage.errors import NotFoundError
from storage.models import ModelVersion


def save_version(
    engine: Engine, scorer: LeadScorer, *, metrics: dict[str, Any], window: tuple[datetime | None, datetime | None],
) -> ModelVersion:
    """Store a trained scorer as a candidate version."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        count = len(session.exec(select(ModelVersion.id)).all())
        version = ModelVersion(
            version=f"v{count + 1}-{now:%Y%m%d%H%M%S}", params=scorer.get_params(),
            features={"names": list(scorer.feature_names_in_), "categorical": sorted(scorer.categories_)},
            trained_at=now, window_start=window[0], window_end=window[1], metrics=metrics,
            artifact=scorer.to_bytes(), status="candidate",
        )
        session.add(version)
        session.commit()
        session.refresh(version)
        return version


def active_version(engine: Engine) -> ModelVersion | None:
    """The version that scores leads now, if any."""
    with Session(engine) as session:
        return session.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()


def active_version_id(engine: Engine) -> int | None:
    """The id of the active version (cheap: the artifact is not read)."""
    with Session(engine) as session:
        return session.exec(select(ModelVersion.id).where(ModelVersion.status == "active")).first()


@lru_cache(maxsize=8)
def cached_scorer(engine: Engine, version_id: int) -> LeadScorer:
    """The fitted scorer of a version, deserialised once per process (versions never change once saved)."""
    with Session(engine) as session:
        version = session.get(ModelVersion, version_id)
        if version is None:
            raise NotFoundError(f"no model version with id {version_id}")
        return load_scorer(version)


def load_scorer(version: ModelVersion) -> LeadScorer:
    """The fitted scorer stored in a version, ready to be shared by threads."""
    scorer = LeadScorer.from_bytes(version.artifact)
    # A loaded booster configures itself on first use, which is not thread-safe; saving the config configures
    # it now, before any thread (the server answers questions from a pool) predicts with it.
    scorer.booster_.save_config()
    return scorer


def list_versions(engine: Engine) -> list[ModelVersion]:
    """Every version, newest first."""
    with Session(engine) as session:
        return list(session.exec(select(ModelVersion).order_by(col(ModelVersion.id).desc())).all())


def activate(engine: Engine, version: str) -> ModelVersion:
    """Make `version` the active one; the previously active version is retired."""
    with Session(engine) as session:
        chosen = session.exec(select(ModelVersion).where(ModelVersion.version == version)).first()
        if chosen is None:
            known = ", ".join(v.version for v in session.exec(select(ModelVersion)).all()) or "none yet"
            raise NotFoundError(f"no model version {version!r} (known: {known})")
        for current in session.exec(select(ModelVersion).where(ModelVersion.status == "active")).all():
            current.status = "retired"
        chosen.status = "active"
        chosen.metrics = {**chosen.metrics, "activated_at": datetime.now(UTC).isoformat()}
        session.commit()
        session.refresh(chosen)
        return chosen


def rollback(engine: Engine) -> ModelVersion:
    """Re-activate the version that was active before the current one."""
    with Session(engine) as session:
        current = session.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()
        previous = [
            v for v in session.exec(select(ModelVersion).order_by(col(ModelVersion.id).desc())).all()
            if v.status == "retired" and "activated_at" in v.metrics and (current is None or v.id != current.id)
        ]
    if not previous:
        raise NotFoundError("there is no earlier active model to roll back to")
    previous.sort(key=lambda v: str(v.metrics["activated_at"]), reverse=True)
    return activate(engine, previous[0].version)
