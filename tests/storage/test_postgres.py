"""Hotlead on a real PostgreSQL server (issue 15, in progress): the schema and the CRM-style imports. The rest of
the suite runs on SQLite; what works on PostgreSQL grows here until the whole suite runs on both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from storage.db import check_schema, make_engine
from tests.conftest import count

FILES = {
    "reps": "name,role,slack_user_id,whatsapp\nJordan Lee,rep,U0001,+15550100001\n",
    "accounts": "name,domain,industry,employees,country\nAcme,acme.example,fintech,120,DE\n",
    "leads": ("external_id,name,email,account,created_at,owner\n"
              "L1,Jane Doe,jane@acme.example,Acme,2026-09-01,Jordan Lee\n"
              "L2,Kai Ode,kai@acme.example,Acme,2026-09-02,\n"),
    "activities": ("lead,kind,occurred_at,url\nL1,page_view,2026-11-02T10:00:00Z,https://x.example/pricing\n"
                   "L1,email_reply,2026-11-03T10:00:00Z,\nL2,page_view,2026-11-04T10:00:00Z,https://x.example/\n"),
    "outcomes": "lead,converted,closed_at,amount\nL2,0,2026-11-20,\n",
}


def test_init_and_the_imports_work_on_a_real_postgresql_and_are_idempotent(
    postgres_url: str, write: Callable[[str, str], Path]
) -> None:
    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), env={"HOTLEAD_DATABASE_URL": postgres_url})
        assert result.exit_code == 0, result.output
        return result.output

    assert "Created the Hotlead schema" in run("init")
    files = {kind: str(write(f"{kind}.csv", text)) for kind, text in FILES.items()}
    for kind, path in files.items():
        run("import", kind, path)
    engine = make_engine(postgres_url)
    check_schema(engine)
    assert engine.dialect.name == "postgresql"
    counts = {table: count(engine, table) for table in ("rep", "account", "lead", "activity", "outcome")}
    assert counts == {"rep": 1, "account": 1, "lead": 2, "activity": 3, "outcome": 1}
    for kind, path in files.items():  # the same files again change nothing
        assert "0 inserted, 0 updated" in run("import", kind, path), kind
    assert {table: count(engine, table) for table in counts} == counts
    engine.dispose()


def demo_files(tmp_path: Path, leads: int) -> Path:
    """The demo's generated CSV files (reps, accounts, leads, activities, messages, outcomes), as users import them."""
    files = tmp_path / "files"
    made = CliRunner().invoke(cli, ["demo", "--leads", str(leads), "--no-train", "--history-weeks", "0",
                                    "--keep-files", str(files)],
                              env={"HOTLEAD_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"})
    assert made.exit_code == 0, made.output
    return files


def both_engines(tmp_path: Path, postgres_url: str) -> tuple[tuple[str, str], ...]:
    """(name, URL) of a fresh SQLite file and of the PostgreSQL test database: the same files go into each."""
    return ("sqlite", f"sqlite:///{tmp_path / 'same.db'}"), ("postgresql", postgres_url)


def test_the_same_files_give_the_same_training_features_on_sqlite_and_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    import numpy as np
    import pandas as pd

    from scoring.signals import analyze_pending
    from scoring.training import training_data
    from storage.db import create_schema
    from storage.importers import import_table

    files = demo_files(tmp_path, 500)
    built = {}
    for name, url in both_engines(tmp_path, postgres_url):
        engine = make_engine(url)
        create_schema(engine)
        for kind in ("reps", "accounts", "leads", "activities", "messages", "outcomes"):
            import_table(engine, kind, files / f"{kind}.csv")
        analyze_pending(engine, mode="rules")
        built[name] = training_data(engine)
        engine.dispose()
    sqlite, postgresql = built["sqlite"], built["postgresql"]
    assert len(sqlite.labels) > 100 and sqlite.external_ids == postgresql.external_ids
    assert (sqlite.labels == postgresql.labels).all()
    assert list(sqlite.features.columns) == list(postgresql.features.columns)
    for column in sqlite.features.columns:
        a, b = sqlite.features[column], postgresql.features[column]
        if pd.api.types.is_numeric_dtype(a):
            assert np.allclose(a.to_numpy(float), b.to_numpy(float), equal_nan=True, atol=1e-6), column
        else:
            assert (a.astype(str) == b.astype(str)).all(), column


def test_train_score_top_and_why_give_the_same_answers_on_postgresql_as_on_sqlite(
    postgres_url: str, tmp_path: Path
) -> None:
    import json

    files = demo_files(tmp_path, 2000)
    answers = {}
    for name, url in both_engines(tmp_path, postgres_url):
        def run(*args: str, url: str = url) -> str:
            result = CliRunner().invoke(cli, list(args), env={"HOTLEAD_DATABASE_URL": url, "HOTLEAD_NLP": "rules"})
            assert result.exit_code == 0, (url, args, result.output)
            return result.output

        run("init")
        for kind in ("reps", "accounts", "leads", "activities", "messages", "outcomes"):
            run("import", kind, str(files / f"{kind}.csv"))
        trained = json.loads(run("train", "--json"))
        run("score")
        top = json.loads(run("top", "--limit", "10", "--json"))
        why = json.loads(run("why", top[0]["lead"], "--json"))
        answers[name] = (trained["auc"], [(t["lead"], round(t["probability"], 9)) for t in top],
                         why["stop"], [r["text"] for r in why["reasons"][:5]])
    assert answers["postgresql"][0] == answers["sqlite"][0]  # the holdout AUC, exactly
    assert answers["postgresql"][1:] == answers["sqlite"][1:]
