-- Token issuance is nearly every audit row (one per token, thousands a second): each of
-- its index entries costs the writer's COPY, on the database's cores. A filter by
-- operation or resource type is fast for tokens without an index of their own (they are
-- most rows: the time index finds a page of them at once), and the rare kinds keep theirs,
-- now small. The planner uses these partial indexes when the value is known at planning,
-- as in the API's and the CLI's one-shot statements. The username index stays whole:
-- "the tokens robot X got" is rare among them.
DROP INDEX audit_log_operation;
CREATE INDEX audit_log_operation ON audit_log (operation, op_time DESC, id DESC)
    WHERE operation <> 'issue_token';
DROP INDEX audit_log_resource_type;
CREATE INDEX audit_log_resource_type ON audit_log (resource_type, op_time DESC, id DESC)
    WHERE resource_type <> 'token';
