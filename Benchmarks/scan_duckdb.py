#!/usr/bin/env python3
"""The comparison's filter (Benchmarks/filter.py) as a DuckDB query over the corpus, as a DuckDB user
would write it: read_json with the three columns needed declared (inferring the schema of every
record's requestParameters would be slower and fail on conflicting types), UNNEST the records, and
select (digest files have no Records: they add no rows). Prints the eventID of each matching record.

  Benchmarks/scan_duckdb.py CORPUS
"""

import os
import sys

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from filter import IAM_EVENTS  # noqa: E402

corpus = sys.argv[1]
names = ", ".join("'%s'" % name for name in IAM_EVENTS)
query = f"""
    select r.eventID from (
        select unnest(Records) as r from read_json('{corpus}/**/*.json.gz',
            columns = {{Records: 'STRUCT(eventID VARCHAR, eventSource VARCHAR, eventName VARCHAR)[]'}}))
    where (r.eventSource = 'signin.amazonaws.com' and r.eventName = 'ConsoleLogin')
       or (r.eventSource = 'iam.amazonaws.com' and r.eventName in ({names}))
"""
for (event_id,) in duckdb.sql(query).fetchall():
    print(event_id)
