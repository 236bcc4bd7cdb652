"""The lead store: SQLModel tables, the engine, keyword-only queries, importers and demo data."""
