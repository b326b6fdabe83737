-- The audit writer (issue 13, "an audit log that loses nothing it promised to keep").
--
-- audit_spill_replay: how far each spill file (DOCKHAND_AUDIT_OVERFLOW=spill) has been
-- replayed into audit_log. The writer commits a chunk's rows and the file's new offset in
-- one transaction, so a crash between the commit and emptying the file replays nothing
-- twice. file_id is the random id in the file's header (a new one each time the file is
-- emptied); the row of an emptied file is deleted.
CREATE TABLE audit_spill_replay (
    file_id    text PRIMARY KEY,
    replayed   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
