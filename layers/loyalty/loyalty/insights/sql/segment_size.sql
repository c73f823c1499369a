-- segment_size: the members of one member-facts snapshot (:snapshot_day, :snapshot_at) in a segment, by the tag
-- the snapshot gave its version (:segment_tag; evaluated by the campaign condition engine when the row was taken):
-- one row with the count, then up to 20 member ids (the first by id) as a sample. Trino dialect.
WITH inside AS (
    SELECT member_id
    FROM member_facts
    WHERE snapshot_day = :snapshot_day AND snapshot_at = :snapshot_at AND contains(segments, :segment_tag)
),
sample AS (
    SELECT member_id FROM inside ORDER BY member_id LIMIT 20
)
SELECT 'count' AS kind, count(*) AS members, CAST(NULL AS VARCHAR) AS member_id FROM inside
UNION ALL
SELECT 'sample', CAST(NULL AS BIGINT), member_id FROM sample
