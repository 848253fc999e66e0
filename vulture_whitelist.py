"""Names vulture (`make lint`) cannot see used: each is called or read by a framework, or
kept in stored data. Anything else it reports is dead: delete it rather than list it here."""
# ruff: noqa: B018, F821

# eventsourcing: hooks and overrides the library calls, recorders named by topic in settings,
# the stored argument of an @event method, a recorder's signature
_.create_timestamp
_.construct_create_table_statements
_.insert_tracking
_.process_event
SQLiteLedgerRecorder
PostgresLedgerRecorder
corrected_type
inclusive_of_start

# aggregate state nothing reads by name, but every stored snapshot holds it: without it a
# snapshot would no longer equal the replay of its events (`careledger verify`)
_.closed_at
_.closure_reason
_.closure_summary
_.read_count

# pydantic models: fields of requests and answers (the API's shape, filled by name)
last_used_at
expired
leaf_withheld
first_root_hash
second_root_hash
relation
phone
registering_unit_name
measure_ids
completed_at
completion_summary
approved_by
lead_unit_name
co_unit_names
modified_at
measures_total
issuer_unit_name
replied_by
reply_late
requested_at
decided_at
decided_by
decision_reason
rows_read

# a dataclass field read by templates (jobs.Job.started_at)
started_at

# the standard library, openpyxl and uvicorn: attributes they read, a signal handler's arguments
_.row_factory
_.StartElementHandler
_.EndElementHandler
_.StartDoctypeDeclHandler
_.EntityDeclHandler
_.font
_.alignment
_.fitToWidth
_.fitToHeight
_.fitToPage
_.should_exit
signum
frame

# pytest: the session's exit status; fields formatted into request paths by name
exitstatus
_.exitstatus
progress_pos
report_pos

# The library calls its recorder's _notify_channel
_._notify_channel
