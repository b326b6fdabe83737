-- Robot lists sort names bytewise (COLLATE "C"), the same on every database whatever its
-- collation, and the same as the admin API's in-memory robot directory (src/robotdir.c).
-- The page index of sql/004 follows, so a list sorted by name still reads its page's ids
-- from the index alone.
DROP INDEX robots_name_id;
CREATE INDEX robots_name_id ON robots (name COLLATE "C", id);
