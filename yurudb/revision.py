"""The schema revision this build expects, recorded here so start-up can compare it without Alembic.

tests/test_schema.py keeps it equal to the newest revision under alembic/versions/.
"""

HEAD = "0002_timestamps"
APPLICATION_ID = 0x79757275  # "yuru": PRAGMA application_id of every yurudb database (set by revision 0002)
