"""The schema's history as Alembic migrations: `versions/` holds one revision per change, oldest first.

A new database is made from the models in one go (`create_all`) and stamped with HEAD, as Alembic's cookbook
advises; an existing one is upgraded revision by revision (`hotlead init`). HEAD names the newest revision, so that
checking a database's version needs no Alembic import (a test holds it equal to the scripts' head).
"""

from pathlib import Path

FOLDER = Path(__file__).parent
REVISIONS = ("0001", "0002", "0003", "0004")  # oldest first
HEAD = REVISIONS[-1]
