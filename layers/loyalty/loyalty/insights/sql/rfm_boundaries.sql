-- rfm_boundaries: the RFM quintile boundaries of one member-facts snapshot (:snapshot_day, :snapshot_at), over the
-- members with a purchase: for recency (days since the last purchase), frequency (purchases over 12 months) and
-- monetary value (spend over 12 months), the 20th, 40th, 60th and 80th percentiles by nearest rank (cut k is the
-- value at position ceil(k * n / 5) of the sorted values; integer arithmetic only). Trino dialect.
WITH population AS (
    SELECT days_since_last_purchase AS recency, purchases_12m AS frequency, spend_12m_minor AS monetary
    FROM member_facts
    WHERE snapshot_day = :snapshot_day AND snapshot_at = :snapshot_at AND days_since_last_purchase IS NOT NULL
),
counted AS (
    SELECT count(*) AS n FROM population
),
ranked AS (
    SELECT 'recency' AS measure, recency AS value, row_number() OVER (ORDER BY recency) AS position FROM population
    UNION ALL
    SELECT 'frequency', frequency, row_number() OVER (ORDER BY frequency) FROM population
    UNION ALL
    SELECT 'monetary', monetary, row_number() OVER (ORDER BY monetary) FROM population
),
cuts AS (
    SELECT cut FROM (VALUES 1, 2, 3, 4) AS c (cut)
)
SELECT r.measure AS measure, k.cut AS cut, r.value AS value, c.n AS members
FROM ranked AS r
CROSS JOIN counted AS c
CROSS JOIN cuts AS k
WHERE 5 * r.position >= k.cut * c.n AND 5 * (r.position - 1) < k.cut * c.n
ORDER BY measure, cut
