"""The schema revision this build expects, recorded here so start-up can compare it without Alembic.

tests/test_schema.py keeps it equal to the newest revision under alembic/versions/.
"""

HEAD = "0002_timestamps"
